#!/usr/bin/env bash
# Load test of the local server (loopback only, bounded in time): starts chat-local on a
# free port over its embedded engine, runs local/examples/load_test.rs (many concurrent
# visitors mixing streamed and JSON completions, gets and closes), prints throughput,
# latency percentiles and errors, checks every answered completion's user and assistant
# messages against the store, and reports the server's memory (RSS) before and after.
#
#   scripts/load-test.sh                          # 50 clients, 30 s
#   LOAD_CLIENTS=200 LOAD_SECONDS=60 scripts/load-test.sh
#   LOAD_PROFILE=release scripts/load-test.sh     # optimised build (slow first build)
#
# The offline provider answers with OFFLINE_TOKENS words, the first after
# OFFLINE_FIRST_TOKEN_MS and then one every OFFLINE_TOKEN_GAP_MS (defaults below: a short
# model-like stream, so the server's own costs dominate).
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS="${LOAD_CLIENTS:-50}"
SECONDS_TOTAL="${LOAD_SECONDS:-30}"
PORT="${LOAD_PORT:-3918}"
PROFILE="${LOAD_PROFILE:-dev}"
export OFFLINE_FIRST_TOKEN_MS="${OFFLINE_FIRST_TOKEN_MS:-50}"
export OFFLINE_TOKEN_GAP_MS="${OFFLINE_TOKEN_GAP_MS:-5}"
export OFFLINE_TOKENS="${OFFLINE_TOKENS:-24}"
export LOG_LEVEL="${LOG_LEVEL:-warn}"

echo "--- building chat-local and the load generator ($PROFILE)"
cargo build --quiet --locked --profile "$PROFILE" -p chat-local --bin chat-local --example load_test
DIR=target/$([[ "$PROFILE" == dev ]] && echo debug || echo "$PROFILE")

LOG="$(mktemp)"
"$DIR/chat-local" serve --addr "127.0.0.1:$PORT" >"$LOG" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 1 100); do
    grep -q "listening" "$LOG" && break
    sleep 0.1
done
grep -q "listening" "$LOG" || { cat "$LOG"; echo "chat-local did not start"; exit 1; }

rss() { awk -v key="$1:" '$1 == key { print $2 " kB" }' "/proc/$SERVER/status"; }
echo "server RSS before: $(rss VmRSS)"
echo "--- $CLIENTS clients for ${SECONDS_TOTAL}s (offline answers: first token ${OFFLINE_FIRST_TOKEN_MS} ms, ${OFFLINE_TOKENS} tokens ${OFFLINE_TOKEN_GAP_MS} ms apart)"
status=0
"$DIR/examples/load_test" --base "http://127.0.0.1:$PORT" --clients "$CLIENTS" --seconds "$SECONDS_TOTAL" || status=$?
echo "server RSS after: $(rss VmRSS), peak: $(rss VmHWM)"
exit "$status"
