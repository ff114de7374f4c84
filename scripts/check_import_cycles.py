#!/usr/bin/env python3
"""No two files of one crate import each other, directly or round a longer circle.

Every `crate::a::b` and `super::x` path in a crate's code (comments aside) names a file (a/b.rs, a.rs or
a/mod.rs); the files and those names make a graph, which must have no cycle. Exits 1 and
prints each circle when one is found.
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATH = re.compile(r"\b(crate|super)((?:::[a-z_][a-z0-9_]*)+)")


def module_of(src: Path, file: Path) -> tuple:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("lib", "main", "mod"):
        parts = parts[:-1]
    return tuple(parts)


def file_of(modules: dict, path: tuple):
    """The longest prefix of `path` that is a file's module."""
    for end in range(len(path), 0, -1):
        if path[:end] in modules:
            return path[:end]
    return None


def cycles(src: Path) -> list:
    files = [f for f in src.rglob("*.rs")]
    modules = {module_of(src, f): f for f in files}
    edges = {m: set() for m in modules}
    for module, file in modules.items():
        # Code only: a doc comment's link to another file is no import.
        text = "\n".join(
            line.split("//", 1)[0] for line in file.read_text(encoding="utf-8").splitlines()
        )
        is_mod_file = file.stem in ("lib", "main", "mod")
        for base, rest in PATH.findall(text):
            names = tuple(rest.strip(":").split("::"))
            if base == "crate":
                target = file_of(modules, names)
            else:
                parent = module if is_mod_file else module[:-1]
                target = file_of(modules, parent[:-1] + names if is_mod_file else parent + names)
            # A file's own children (its `mod` items) and itself are not imports.
            if target is not None and target != module and target[: len(module)] != module:
                edges[module].add(target)
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(modules):
        if node not in state:
            visit(node)
    return found


def main() -> int:
    bad = 0
    for src in sorted(ROOT.glob("*/*/src")) + sorted(ROOT.glob("local/src")):
        if "target" in src.parts or "node_modules" in src.parts:
            continue
        for circle in cycles(src):
            bad += 1
            names = " -> ".join("/".join(m) or "lib" for m in circle)
            print(f"{src.parent.relative_to(ROOT)}: {names}")
    print(f"import circles: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
