#!/usr/bin/env bash
# The performance benchmark (README "Benchmarks", BENCHMARKS.md), from a fresh clone. Builds
# in release mode what it measures: the function binaries and the hello-world `lambda_http`
# floor (bench/hello), with the workspace's release profile; then the arm64 builds with
# cargo-lambda for their sizes (skip with --no-arm64: x86_64 sizes are reported instead);
# installs the peers (bench/peers/install.sh: npm ci from the lockfile, pip with hashes, the
# esbuild bundles and the deployment zips; skipped steps cost nothing on a second run); then
# runs the bench crate, which prints one table of ratios against floors and peers measured in
# the same run.
#
#   scripts/bench.sh                       the full run (several minutes once built)
#   scripts/bench.sh --no-arm64            no cross build; sizes of the x86_64 binaries
#   scripts/bench.sh --no-peers            without the Node.js and Python peers (rows 6)
#   scripts/bench.sh --quick               fewer repetitions (a smoke test, not a result)
#   scripts/bench.sh -- --write            also write BENCHMARKS.svg and the table in BENCHMARKS.md
#   scripts/bench.sh -- --help             the bench's own options (rounds of each part)
#   scripts/bench.sh --knowledge [-- …]    the knowledge benchmark instead (search, cold search,
#                                          index size, crawl, and the rank_bm25 peer)
#   scripts/bench.sh --grounded [-- …]     the grounded-answers benchmark instead (answer quality
#                                          with the offline provider and a scripted model,
#                                          a grounded turn's first byte against an ungrounded one)
#
# On a shared machine: nice -n 10 env CARGO_BUILD_JOBS=1 scripts/bench.sh
# Not run in CI: its figures depend on the machine; only their ratios are meaningful.
set -euo pipefail
cd "$(dirname "$0")/.."

arm64=true
peers=true
bench_args=()
if [[ "${1:-}" == "--grounded" ]]; then
    shift
    [[ "${1:-}" == "--" ]] && shift
    echo "--- release build: the grounded-answers benchmark"
    cargo build --release --locked -p bench --bin bench-grounded
    exec "${CARGO_TARGET_DIR:-target}/release/bench-grounded" "$@"
fi
if [[ "${1:-}" == "--knowledge" ]]; then
    shift
    [[ "${1:-}" == "--" ]] && shift
    venv=bench/peers/python/.venv-bm25
    if [[ ! -x "$venv/bin/python" ]]; then
        echo "--- the rank_bm25 peer: pinned, into $venv"
        "${PYTHON:-python3}" -m venv "$venv"
        "$venv/bin/pip" install --quiet --require-hashes --no-deps --only-binary=:all: \
            -r bench/peers/python/requirements-bm25.txt
    fi
    echo "--- release build: the knowledge benchmark"
    cargo build --release --locked -p bench --bin bench-knowledge
    exec "${CARGO_TARGET_DIR:-target}/release/bench-knowledge" --python "$venv/bin/python" "$@"
fi

while [[ $# -gt 0 ]]; do
    case "$1" in
        --no-arm64) arm64=false; shift ;;
        --no-peers) peers=false; bench_args+=(--no-peers); shift ;;
        --quick) bench_args+=(--quick); shift ;;
        --) shift; bench_args+=("$@"); break ;;
        -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

target_dir="${CARGO_TARGET_DIR:-target}"
bins=(get-conversation close-conversation chat-completion conversations bench-hello)
# Built apart: its DynamoDB stream events (aws_lambda_events' `dynamodb` feature) would
# otherwise be unified into the other binaries, whose sizes are measured.
pusher=chat-push

echo "--- release build: the functions and the hello-world floor"
# Built on their own, as SAM builds them: the bench crate's extra features (tokio process,
# the embedded engine) are not unified into these binaries.
package_args=()
for bin in "${bins[@]}"; do package_args+=(-p "$bin"); done
cargo build --release --locked "${package_args[@]}"
cargo build --release --locked -p "$pusher"
# The functions that link the knowledge's index, on their own too: what they link is not
# unified into the others (their cold starts are rows 1, reported).
cargo build --release --locked -p knowledge-api -p crawl-worker

size_args=()
if $arm64; then
    echo "--- arm64 release build with cargo-lambda (sizes)"
    source scripts/lib/deploy-tools.sh
    ensure_deploy_tools build-requirements.txt
    lambda_args=()
    for bin in "${bins[@]}"; do lambda_args+=(--bin "$bin"); done
    cargo lambda build --release --arm64 --locked "${lambda_args[@]}"
    size_args=(--size-dir "$target_dir/lambda")
fi

if $peers; then
    echo "--- the peers: Node.js and Python, pinned (bench/peers/install.sh)"
    bench/peers/install.sh
fi

echo "--- release build: the bench"
cargo build --release --locked -p bench

echo "--- run"
"$target_dir/release/bench" --bin-dir "$target_dir/release" "${size_args[@]}" "${bench_args[@]}"
