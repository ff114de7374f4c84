#!/usr/bin/env bash
# Runs every sample event in events/ through the real Lambda binaries as Lambda runs them,
# under `cargo lambda watch` (cargo-lambda's emulation of the Lambda runtime API), against
# the embedded DynamoDB engine of `chat-local serve` with its demo data, and checks that
# each answers with the status local/tests/api/events.rs expects of it. Then streams one
# completion with `curl -N`, printing its chunks as they arrive. Exits non-zero on any
# mismatch.
#
#   scripts/local-invoke.sh
#
#   ENGINE_PORT   the embedded engine's port (default 8000)
#   S3_PORT       the embedded S3 engine's port (default 8001)
#   INVOKE_PORT   cargo lambda watch's port (default 9000)
#
# The binary comes from the event file's name: get-conversation-*, close-conversation-*,
# chat-completion-*, chat-projects-*, chat-identity-*, chat-agents-*, conversations-*,
# feedback-*, live-* (chat-live), push-* (chat-push: a batch of the table's stream, whose
# answer has no status: no record to be told again counts as 200), knowledge-* (knowledge),
# crawl-worker-* (crawl-worker: a batch of the knowledge queue, 200 when no job is to be
# given again, or a schedule tick, 200 when it answers its counts). Events run get first, then the agent routes (which hand the demo conversation
# off and give it back), then completion, then close, because a close
# event closes the demo conversation the others read and write. The buffered functions are
# invoked with `cargo lambda invoke` and the statusCode of the API Gateway response it
# prints is compared. The completion function streams (run_with_streaming_response), and for
# such a function `cargo lambda invoke` prints only the body and fails on any status but 200,
# so its events are posted with curl to the same emulator endpoint
# (/2015-03-31/functions/<binary>/invocations), which relays the status, headers and chunks
# of the function's response stream as an HTTP response.
#
# The knowledge: chat-local serves its embedded S3 engine on S3_PORT (bucket chat-knowledge,
# path-style, keys local/local) and crawls its demo shop at start, before it says it is
# listening, so the demo project has an index and knowledge-search.json must answer 200
# with results. The functions are pointed at that engine (S3_ENDPOINT_URL) but at no queue:
# KNOWLEDGE_QUEUE_URL names a port nothing listens on, so the knowledge events are ones that
# queue nothing (reads, refusals), the worker's batch names a source that does not exist (a
# job with nothing to do), and its tick finds no source due (the shop was synced at start).
# Until local/tests/api/events.rs lists the knowledge-* and crawl-worker-* events, their
# statuses come from KNOWLEDGE_EXPECTED below (the test's, when it has them, must agree).
#
# The stream goes through that endpoint too, with an API Gateway REST event as on AWS. Not
# through watch's function URL emulation (/lambda-url/<binary>/...): that sends a function
# URL (HTTP API v2) event, which the binaries cannot parse, since lambda_http is compiled with
# the REST event shape only (Cargo.toml), and it answers 500 DeserializeError.
#
# Needs the Rust toolchain, curl and Python 3; installs cargo-lambda like
# scripts/sam-build.sh (scripts/lib/deploy-tools.sh). On a shared machine:
#   nice -n 10 env CARGO_BUILD_JOBS=1 scripts/local-invoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ENGINE_PORT="${ENGINE_PORT:-8000}"
S3_PORT="${S3_PORT:-8001}"
INVOKE_PORT="${INVOKE_PORT:-9000}"

source scripts/lib/deploy-tools.sh
ensure_deploy_tools deploy-requirements.txt build-requirements.txt
python="$DEPLOY_VENV/bin/python"

work="$(mktemp -d)"
pids=()
cleanup() {
    local status=$?
    # Each background job leads its own process group (setsid): end it with its children
    # (cargo run and the function processes cargo lambda watch starts).
    for pid in "${pids[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
trap 'exit 141' PIPE

fail() {
    echo "FAIL  $*" >&2
    exit 1
}

# wait_for LOG PATTERN SECONDS WHAT: until LOG has a line matching PATTERN.
wait_for() {
    local log="$1" pattern="$2" seconds="$3" what="$4" i
    for ((i = 0; i < seconds * 4; i++)); do
        grep -q -- "$pattern" "$log" 2>/dev/null && return 0
        sleep 0.25
    done
    echo "--- $log" >&2
    tail -n 40 "$log" >&2 || true
    fail "$what did not start within ${seconds} s"
}

# wait_for_port PORT SECONDS WHAT: until something listens on 127.0.0.1:PORT.
wait_for_port() {
    local port="$1" seconds="$2" what="$3" i
    for ((i = 0; i < seconds * 4; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.25
    done
    fail "$what is not listening on 127.0.0.1:$port after ${seconds} s"
}

for port in "$ENGINE_PORT" "$S3_PORT" "$INVOKE_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        fail "127.0.0.1:$port is in use (set ENGINE_PORT / S3_PORT / INVOKE_PORT)"
    fi
done

# The expected statuses, from the test that runs the same files in-process.
declare -A expected
while read -r name status; do
    expected["$name"]="$status"
done < <(grep -oE '\("[A-Za-z0-9._-]+\.json", *[0-9]{3}\)' local/tests/api/events.rs |
    sed -E 's/\("([^"]+)", *([0-9]+)\)/\1 \2/')
[[ ${#expected[@]} -gt 0 ]] || fail "no expected statuses found in local/tests/api/events.rs"
# The knowledge's events, until local/tests/api/events.rs lists them (see above).
declare -A KNOWLEDGE_EXPECTED=(
    [knowledge-search.json]=200
    [knowledge-search-size-out-of-range.json]=422
    [knowledge-search-no-credential.json]=400
    [knowledge-sources-list.json]=200
    [knowledge-sources-list-session-token.json]=403
    [knowledge-source-not-found.json]=404
    [knowledge-source-pages-not-found.json]=404
    [knowledge-qnas-list.json]=200
    [knowledge-qna-other-project.json]=404
    [crawl-worker-batch.json]=200
    [crawl-worker-tick.json]=200
)
for name in "${!KNOWLEDGE_EXPECTED[@]}"; do
    if [[ -z "${expected[$name]:-}" ]]; then
        expected["$name"]="${KNOWLEDGE_EXPECTED[$name]}"
    elif [[ "${expected[$name]}" != "${KNOWLEDGE_EXPECTED[$name]}" ]]; then
        fail "events/$name: local/tests/api/events.rs expects ${expected[$name]}, this script ${KNOWLEDGE_EXPECTED[$name]}"
    fi
done

# The development key the sample events are signed with.
dev_keys="$(sed -nE 's/.*DEV_SIGNING_KEYS: &str = "([^"]+)";.*/\1/p' local/src/settings.rs)"
[[ -n "$dev_keys" ]] || fail "DEV_SIGNING_KEYS not found in local/src/settings.rs"
demo_project="$(sed -nE 's/.*DEMO_PROJECT: Uuid = uuid!\("([^"]+)"\);.*/\1/p' local/src/seed.rs)"
demo_visitor="$(sed -nE 's/.*DEMO_VISITOR: Uuid = uuid!\("([^"]+)"\);.*/\1/p' local/src/seed.rs)"
[[ -n "$demo_project" && -n "$demo_visitor" ]] || fail "the demo ids were not found in local/src/seed.rs"

echo "--- building chat-local and the function binaries"
cargo build --quiet --bin chat-local \
    --bin get-conversation --bin close-conversation --bin chat-completion \
    --bin chat-projects --bin chat-identity --bin conversations --bin feedback --bin chat-agents --bin chat-live \
    --bin chat-push --bin knowledge --bin crawl-worker

echo "--- chat-local serve: embedded DynamoDB on 127.0.0.1:$ENGINE_PORT, S3 on 127.0.0.1:$S3_PORT, demo data and shop"
# Its own engine, whatever this shell points DynamoDB at; the API itself is not used here.
setsid env -u DYNAMODB_ENDPOINT -u SESSION_SIGNING_KEYS_SECRET_ARN \
    TABLE_NAME=chat-local SESSION_SIGNING_KEYS="$dev_keys" LOG_FORMAT=text \
    target/debug/chat-local serve --engine-addr "127.0.0.1:$ENGINE_PORT" --s3-addr "127.0.0.1:$S3_PORT" \
    --addr 127.0.0.1:0 \
    >"$work/serve.log" 2>&1 &
pids+=($!)
# It listens once the demo shop's first crawl is over (60 s at most).
wait_for "$work/serve.log" "chat API listening" 120 "chat-local serve"
grep -E "^(S3|demo shop):" "$work/serve.log" || true

echo "--- cargo lambda watch on 127.0.0.1:$INVOKE_PORT"
function_env=(
    TABLE_NAME=chat-local
    "SESSION_SIGNING_KEYS=$dev_keys"
    "DYNAMODB_ENDPOINT=http://127.0.0.1:$ENGINE_PORT"
    AWS_ACCESS_KEY_ID=local
    AWS_SECRET_ACCESS_KEY=local
    AWS_REGION=us-east-1
    LOG_FORMAT=text
    "CORS_ALLOWED_ORIGINS=*"
    OFFLINE_FIRST_TOKEN_MS=100
    OFFLINE_TOKEN_GAP_MS=50
    # The push function's Management API: nothing listens there, and the demo conversation
    # has no socket left by the time its events run (live-disconnect forgot it).
    LIVE_MANAGEMENT_ENDPOINT=http://127.0.0.1:9/live
    # The knowledge's blobs: chat-local's embedded S3 engine. Its queue: nothing listens
    # there, and no event here queues a job (see above).
    "S3_ENDPOINT_URL=http://127.0.0.1:$S3_PORT"
    KNOWLEDGE_BUCKET=chat-knowledge
    KNOWLEDGE_QUEUE_URL=http://127.0.0.1:9/000000000000/chat-knowledge.fifo
)
env_args=()
for pair in "${function_env[@]}"; do env_args+=(--env-var "$pair"); done
setsid env -u SESSION_SIGNING_KEYS_SECRET_ARN "${function_env[@]}" \
    cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$INVOKE_PORT" \
    --ignore-changes --disable-cors "${env_args[@]}" >"$work/watch.log" 2>&1 &
pids+=($!)
wait_for_port "$INVOKE_PORT" 120 "cargo lambda watch"

invocations="http://127.0.0.1:$INVOKE_PORT/2015-03-31/functions"

# answer_of_invoke BINARY FILE EXPRESSION: EXPRESSION (Python, of the JSON answer `a`) of
# what `cargo lambda invoke` prints.
answer_of_invoke() {
    local output
    if ! output="$(cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$INVOKE_PORT" \
        "$1" --data-file "$2" 2>"$work/invoke.err")"; then
        cat "$work/invoke.err" >&2
        echo "invoke-failed"
        return
    fi
    printf '%s' "$output" | "$python" -c "import json, sys; a = json.load(sys.stdin); print($3)" \
        2>/dev/null || echo "unreadable-answer"
}

# status_of_invoke BINARY FILE: the statusCode of the API Gateway response.
status_of_invoke() { answer_of_invoke "$1" "$2" 'a["statusCode"]'; }

# status_of_batch BINARY FILE: 200 when the stream batch's answer names no record to be told
# again.
status_of_batch() { answer_of_invoke "$1" "$2" '200 if a["batchItemFailures"] == [] else 500'; }

# status_of_tick BINARY FILE: 200 when the schedule's tick answers its counts.
status_of_tick() { answer_of_invoke "$1" "$2" '200 if sorted(a) == ["passedOver", "queued"] else 500'; }

# status_of_search BINARY FILE: the statusCode, and a 200 must carry results (the demo
# shop's pages are indexed).
status_of_search() {
    answer_of_invoke "$1" "$2" \
        'a["statusCode"] if a["statusCode"] != 200 or json.loads(a["body"])["results"] else "200-without-results"'
}

# status_of_stream BINARY FILE: the status of a streamed invocation, as the emulator relays
# it from the function's response prelude.
status_of_stream() {
    curl -sS -N -o "$work/stream.out" -w '%{http_code}' --max-time 120 \
        -X POST --data-binary "@$2" "$invocations/$1/invocations" || echo "curl-failed"
}

# Order: get, the agent routes (in file-name order: handoff, message, release, then a
# message refused once released), completion, conversations, feedback, live, then close
# (which closes the demo conversation).
shopt -s nullglob
files=()
for prefix in chat-projects chat-identity get-conversation chat-agents chat-completion conversations feedback live push knowledge crawl-worker close-conversation; do
    for path in events/"$prefix"*.json; do files+=("${path#events/}"); done
done
for path in events/*.json; do
    case "${path#events/}" in
        get-conversation* | chat-completion* | close-conversation* | conversations* | feedback* | chat-projects* | chat-identity* | chat-agents* | live* | push* | knowledge* | crawl-worker*) ;;
        *) fail "$path: no function's name starts it (get-conversation, close-conversation, chat-completion, conversations, feedback, chat-projects, chat-identity, chat-agents, live, push, knowledge, crawl-worker)" ;;
    esac
done

echo "--- invoking ${#files[@]} events"
mismatches=0
for file in "${files[@]}"; do
    case "$file" in
        get-conversation*) binary=get-conversation mode=invoke ;;
        close-conversation*) binary=close-conversation mode=invoke ;;
        chat-completion*) binary=chat-completion mode=stream ;;
        chat-projects*) binary=chat-projects mode=invoke ;;
        chat-identity*) binary=chat-identity mode=invoke ;;
        conversations*) binary=conversations mode=invoke ;;
        feedback*) binary=feedback mode=invoke ;;
        chat-agents*) binary=chat-agents mode=invoke ;;
        # The WebSocket API's events: the live function answers an API Gateway proxy
        # response too. Two of them name keys the demo seed does not have (local/tests/api/events.rs
        # stores them, SAMPLE_KEYS): they run in that test only.
        live-connect-other-project-key.json | live-connect-bad-origin.json)
            echo "skip  events/$file (its key is stored by local/tests/api/events.rs only)"
            continue
            ;;
        live*) binary=chat-live mode=invoke ;;
        push*) binary=chat-push mode=batch ;;
        knowledge-search.json) binary=knowledge mode=search ;;
        knowledge*) binary=knowledge mode=invoke ;;
        crawl-worker-tick*) binary=crawl-worker mode=tick ;;
        crawl-worker*) binary=crawl-worker mode=batch ;;
    esac
    want="${expected[$file]:-}"
    if [[ -z "$want" ]]; then
        echo "FAIL  events/$file: no expected status in local/tests/api/events.rs"
        mismatches=$((mismatches + 1))
        continue
    fi
    if [[ "$mode" == invoke ]]; then
        got="$(status_of_invoke "$binary" "events/$file")"
    elif [[ "$mode" == batch ]]; then
        got="$(status_of_batch "$binary" "events/$file")"
    elif [[ "$mode" == tick ]]; then
        got="$(status_of_tick "$binary" "events/$file")"
    elif [[ "$mode" == search ]]; then
        got="$(status_of_search "$binary" "events/$file")"
    else
        got="$(status_of_stream "$binary" "events/$file")"
    fi
    if [[ "$got" == "$want" ]]; then
        printf 'ok    %-45s %-19s %s\n' "$file" "$binary" "$got"
    else
        printf 'FAIL  %-45s %-19s got %s, want %s\n' "$file" "$binary" "$got" "$want"
        mismatches=$((mismatches + 1))
    fi
done
for name in "${!expected[@]}"; do
    [[ -f "events/$name" ]] || {
        echo "FAIL  events/$name is expected by local/tests/api/events.rs but missing"
        mismatches=$((mismatches + 1))
    }
done

echo "--- streaming one completion with curl -N"
# A new conversation of the demo visitor (the demo one is closed by now), its chunks
# printed as they arrive.
token="$(env -u SESSION_SIGNING_KEYS_SECRET_ARN SESSION_SIGNING_KEYS="$dev_keys" \
    target/debug/chat-local token --project "$demo_project" --visitor "$demo_visitor" --ttl 600)"
"$python" - "$token" >"$work/stream-event.json" <<'EOF'
import json, sys
body = json.dumps({"stream": True, "messages": [{"role": "user", "content": "Do you ship to Canada?"}]})
print(json.dumps({
    "resource": "/v2/chat/completions", "path": "/v2/chat/completions", "httpMethod": "POST",
    "headers": {"Authorization": f"Bearer {sys.argv[1]}", "Content-Type": "application/json",
                "Origin": "https://shop.example"},
    "multiValueHeaders": {"Authorization": [f"Bearer {sys.argv[1]}"],
                          "Content-Type": ["application/json"], "Origin": ["https://shop.example"]},
    "queryStringParameters": None, "multiValueQueryStringParameters": None,
    "pathParameters": None, "stageVariables": None,
    "requestContext": {"resourcePath": "/v2/chat/completions", "httpMethod": "POST",
                       "path": "/prod/v2/chat/completions", "stage": "prod",
                       "requestId": "local-invoke-stream", "accountId": "123456789012",
                       "identity": {"sourceIp": "127.0.0.1"}},
    "body": body, "isBase64Encoded": False,
}))
EOF
curl -sS -N -D "$work/stream.headers" --max-time 120 -X POST \
    --data-binary "@$work/stream-event.json" "$invocations/chat-completion/invocations" |
    tee "$work/stream.out" || true
status="$(awk 'NR == 1 { print $2 }' "$work/stream.headers" 2>/dev/null)"
echo
check_stream() {
    [[ "$status" == 200 ]] || { echo "status $status"; return 1; }
    grep -qi '^content-type: text/event-stream' "$work/stream.headers" || { echo "not an event stream"; return 1; }
    grep -qi '^access-control-allow-origin: \*' "$work/stream.headers" || { echo "no CORS header"; return 1; }
    grep -q '"type":"text-delta"' "$work/stream.out" || { echo "no text-delta chunk"; return 1; }
    [[ "$(tail -c 14 "$work/stream.out")" == "data: [DONE]" ]] || { echo "does not end with data: [DONE]"; return 1; }
}
if why="$(check_stream)"; then
    echo "ok    streamed completion: 200, text/event-stream, CORS, text deltas, [DONE]"
else
    echo "FAIL  streamed completion: $why"
    mismatches=$((mismatches + 1))
fi

if [[ $mismatches -gt 0 ]]; then
    echo "--- cargo lambda watch log (last 40 lines)"
    tail -n 40 "$work/watch.log"
    echo "$mismatches mismatch(es)"
    exit 1
fi
echo "all ${#files[@]} events and the stream answered as expected"
