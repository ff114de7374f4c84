#!/usr/bin/env bash
# Builds the Lambda functions with `sam build`, without Docker: SAM's rust-cargolambda build
# method runs `cargo lambda build --release --arm64 --bin <Binary>` in each function's crate,
# and cargo-lambda (from pip) cross-links for arm64 with zig (the ziglang package it pulls
# in). The result is .aws-sam/build/<Function>/bootstrap, one arm64 binary per function, and
# .aws-sam/build/template.yaml, which `sam deploy` uploads.
#
#   scripts/sam-build.sh                   build every function; fails if a crate is missing
#   scripts/sam-build.sh --x86_64          build for x86_64 (the template's Architecture
#                                          parameter), where the arm64 standard library cannot
#                                          be installed; CI does this on every change
#   scripts/sam-build.sh --only-existing   build only the functions whose crate exists (the
#                                          others are left out of .aws-sam/build/template.yaml:
#                                          not for deploying)
#   scripts/sam-build.sh [...] -- ARGS     pass ARGS on to `sam build`
#
# Needs the Rust toolchain with rustup (the aarch64-unknown-linux-gnu standard library is
# added if missing) and Python 3 with venv; installs its pinned tools first
# (scripts/lib/deploy-tools.sh). On a shared machine, be kind to other builds:
#   nice -n 10 env CARGO_BUILD_JOBS=1 scripts/sam-build.sh
set -euo pipefail
cd "$(dirname "$0")/.."

only_existing=false
architecture=arm64
sam_args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --only-existing) only_existing=true; shift ;;
        --) shift; sam_args=("$@"); break ;;
        --x86_64) architecture=x86_64; shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

source scripts/lib/deploy-tools.sh
ensure_deploy_tools deploy-requirements.txt build-requirements.txt

if [[ "$architecture" == arm64 ]]; then target=aarch64-unknown-linux-gnu; else target=x86_64-unknown-linux-gnu; fi
if command -v rustup >/dev/null; then
    if ! rustup target list --installed | grep -qx "$target"; then
        echo "--- rustup target add $target"
        rustup target add "$target"
    fi
else
    echo "rustup not found: make sure the $target standard library is installed" >&2
fi

# Every function's crate must exist (or, with --only-existing, the function is left out of a
# copy of the template that is built instead).
template=template.yaml
if $only_existing; then
    mkdir -p .aws-sam
    template=.aws-sam/template.existing-crates.json
fi
python - "$only_existing" "$template" <<'EOF'
import json, sys
from pathlib import Path
sys.path.insert(0, "scripts")
from check_template_matches_code import load_template

only_existing, out = sys.argv[1] == "true", Path(sys.argv[2])
template = load_template(Path("template.yaml"))
missing = []
for name, resource in list(template["Resources"].items()):
    if resource.get("Type") == "AWS::Serverless::Function":
        crate = Path(resource["Properties"]["CodeUri"])
        if not (crate / "Cargo.toml").is_file():
            missing.append(f"{name} ({crate}/Cargo.toml)")
            del template["Resources"][name]
if missing and not only_existing:
    sys.exit("cannot build, crates missing: " + ", ".join(missing) + "\n(--only-existing builds the others)")
for m in missing:
    print(f"WARNING: skipping {m}: the crate does not exist", file=sys.stderr)
if only_existing:
    out.write_text(json.dumps(template, indent=1))
EOF

echo "--- sam build ($(sam --version); $(cargo lambda --version))"
# --base-dir: CodeUri paths stay relative to the repository when the template is a copy.
sam build --template-file "$template" --base-dir . \
    --parameter-overrides "Architecture=$architecture" "${sam_args[@]}"

echo "--- built bootstraps"
status=0
for bootstrap in .aws-sam/build/*/bootstrap; do
    [[ -e "$bootstrap" ]] || { echo "no bootstrap was built" >&2; exit 1; }
    # ELF e_machine: 183 = AArch64, 62 = x86-64
    machine="$(python -c 'import sys; d=open(sys.argv[1],"rb").read(20); print(int.from_bytes(d[18:20],"little") if d[:4]==b"\x7fELF" else -1)' "$bootstrap")"
    case "$architecture:$machine" in
        arm64:183 | x86_64:62) arch="$architecture" ;;
        *) arch="NOT $architecture (e_machine $machine)"; status=1 ;;
    esac
    printf '%10d bytes  %s  %s\n' "$(stat -c %s "$bootstrap")" "$arch" "$bootstrap"
done
if $only_existing; then
    echo "WARNING: built from $template, without the functions listed above as skipped;"
    echo "         .aws-sam/build/template.yaml is incomplete: do not deploy it."
fi
exit $status
