#!/usr/bin/env bash
# Schemathesis against the local server: every operation of openapi.yaml with generated
# requests and a valid session token (and the agent routes and the project's list again with
# the demo project's secret key, and the knowledge's routes a third time with it), checking
# for 5xx, responses that do not match the spec (bodies, content types, headers) and status
# codes the spec does not declare.
#
#   scripts/schemathesis.sh                      # CI: 100 examples per operation
#   ST_MAX_EXAMPLES=1000 scripts/schemathesis.sh # longer
#
# Installs the pinned schemathesis into .venv-schemathesis/ on first use, builds and
# starts chat-local on a free loopback port (embedded engine, demo data, instant offline
# answers; its demo shop crawled, so search has results), and stops it at the end. The
# settings are scripts/schemathesis.toml plus the id of the demo shop's source, which the
# server makes at start (the `demo-source` dictionary the knowledge's operations draw
# `sourceId` from). Extra arguments go to `st run`. The widget's socket
# (GET /v2/conversations/{conversationId}/ws) is left out: a WebSocket's 101 is no answer a
# schema describes;
# local/tests/api/live.rs tests it with a real WebSocket client instead.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
VENV=.venv-schemathesis
PORT="${ST_PORT:-3917}"
MAX_EXAMPLES="${ST_MAX_EXAMPLES:-100}"

if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    echo "--- installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

echo "--- building chat-local"
cargo build --quiet -p chat-local --locked
BIN=target/debug/chat-local

# The demo project and visitor the server seeds (local/src/seed.rs).
PROJECT=0192f0a0-0000-7000-8000-00000000d001
VISITOR=0192f0a0-0000-7000-8000-00000000d002
TOKEN="$("$BIN" token --project "$PROJECT" --visitor "$VISITOR" --ttl 7200)"
# The demo project's development secret key (DEMO_SECRET_KEY in local/src/seed.rs).
SECRET_KEY="$(sed -nE 's/^ *"(sk_[0-9a-f]{64})";$/\1/p' local/src/seed.rs)"
[[ -n "$SECRET_KEY" ]] || { echo "DEMO_SECRET_KEY not found in local/src/seed.rs"; exit 1; }

LOG="$(mktemp)"
CONFIG="$(mktemp --suffix=.toml)"
# Rate limits off: with one visitor they would answer most requests 429 and leave the
# logic behind them unchecked (the limits have their own tests: local/tests/api/limits.rs).
RATE_LIMITS_ENABLED=false OFFLINE_FIRST_TOKEN_MS=0 OFFLINE_TOKEN_GAP_MS=0 OFFLINE_TOKENS=8 \
    "$BIN" serve --addr "127.0.0.1:$PORT" >"$LOG" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -f "$LOG" "$CONFIG"' EXIT
# It listens once the demo shop's first crawl is over (60 s at most).
for _ in $(seq 1 1200); do
    grep -q "listening" "$LOG" && break
    sleep 0.1
done
grep -q "listening" "$LOG" || { cat "$LOG"; echo "chat-local did not start"; exit 1; }
grep -E "^demo shop:" "$LOG" || true

# The demo shop's source (the one source the seed's project has at start).
SOURCE="$(curl -sS -H "Authorization: Bearer $SECRET_KEY" "http://127.0.0.1:$PORT/v2/knowledge/sources" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["data"][0]["id"])')" ||
    { echo "the demo shop's source was not found"; exit 1; }
{
    cat scripts/schemathesis.toml
    printf '\n# Added by scripts/schemathesis.sh: the source of the demo shop.\n'
    printf '[dictionaries.demo-source]\nvalues = ["%s"]\n' "$SOURCE"
} >"$CONFIG"

echo "--- schemathesis $SCHEMATHESIS_VERSION against http://127.0.0.1:$PORT"
"$VENV/bin/st" --config-file "$CONFIG" run openapi.yaml \
    --url "http://127.0.0.1:$PORT" \
    --header "Authorization: Bearer $TOKEN" \
    --checks all \
    --max-examples "$MAX_EXAMPLES" \
    --workers 1 \
    --seed 1 \
    --suppress-health-check all \
    --exclude-path "/v2/conversations/{conversationId}/ws" \
    "$@"

# The routes only a project's secret key reaches, run with the demo's development key.
run_with_secret_key() {
    "$VENV/bin/st" --config-file "$CONFIG" run openapi.yaml \
        --url "http://127.0.0.1:$PORT" \
        --header "Authorization: Bearer $SECRET_KEY" \
        --checks all \
        --max-examples "$MAX_EXAMPLES" \
        --workers 1 \
        --seed 1 \
        --suppress-health-check all \
        "$@"
}

echo "--- schemathesis: the agent routes and scope=project with the demo secret key"
run_with_secret_key \
    --include-operation-id handOffConversation \
    --include-operation-id postAgentMessage \
    --include-operation-id releaseConversation \
    --include-operation-id listConversations \
    "$@"

echo "--- schemathesis: the knowledge's routes (sources, pages, Q&A pairs, search) with the demo secret key"
run_with_secret_key --include-tag knowledge "$@"
