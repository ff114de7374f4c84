#!/usr/bin/env bash
# Fuzz the request parsers, the token verifier and the UI stream encoder with cargo fuzz
# (libFuzzer + AddressSanitizer).
#
#   scripts/fuzz.sh                 # CI: 30 s per target (FUZZ_SECONDS), fails on any crash
#   FUZZ_SECONDS=3600 scripts/fuzz.sh            # the longer run, one hour per target
#   FUZZ_SECONDS=600 scripts/fuzz.sh token       # one target
#
# Targets: close_body, completion_body, token, ui_stream (fuzz/fuzz_targets/). Seeds come
# from events/ (the sample API Gateway events: their bodies and tokens) into
# fuzz/corpus/<target>/, which also keeps what libFuzzer finds between runs (gitignored).
# A crash leaves its input in fuzz/artifacts/<target>/; replay it with
#   cargo fuzz run <target> fuzz/artifacts/<target>/<file>
#
# cargo fuzz needs nightly compiler flags (-Z sanitizer, -Z ...). Only the stable
# toolchain is installed, so the script sets RUSTC_BOOTSTRAP=1, which lets stable rustc
# accept them (unsupported by the Rust project, fine for a test build). Set
# FUZZ_TOOLCHAIN=nightly to use a real nightly instead.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
SECONDS_PER_TARGET="${FUZZ_SECONDS:-30}"
ALL_TARGETS=(close_body completion_body token ui_stream)
TARGETS=("${@:-${ALL_TARGETS[@]}}")

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    echo "--- installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

if [[ -n "${FUZZ_TOOLCHAIN:-}" ]]; then
    FUZZ=(cargo "+$FUZZ_TOOLCHAIN" fuzz)
else
    export RUSTC_BOOTSTRAP=1
    FUZZ=(cargo fuzz)
fi

echo "--- seeding fuzz/corpus from events/"
python3 - <<'PY'
import hashlib, json, pathlib
root = pathlib.Path("fuzz/corpus")
def seed(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = root / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)
for path in sorted(pathlib.Path("events").glob("*.json")):
    event = json.loads(path.read_text())
    body = event.get("body") or ""
    if path.name.startswith("close-"):
        seed("close_body", body)
    if path.name.startswith("chat-completion"):
        seed("completion_body", body)
        try:
            for message in json.loads(body).get("messages", []):
                seed("ui_stream", str(message.get("content", "")))
        except (ValueError, AttributeError):
            pass
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        seed("token", auth[7:])
for text in ["line one\nline two\r\n", "data: [DONE]\n\n", "\"quoted\" \\ \u2028 \u0000"]:
    seed("ui_stream", text)
PY

for target in "${TARGETS[@]}"; do
    echo "--- fuzzing $target for ${SECONDS_PER_TARGET}s"
    # -dict-free, bounded input size; a crash or leak exits non-zero and stops the script.
    "${FUZZ[@]}" run "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1
done
echo "--- fuzzing: no crashes"
