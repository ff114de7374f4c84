#!/usr/bin/env bash
# The demo site's browser test: builds web/ (React + the AI SDK's useChat), starts the local
# server with the site beside the API, and drives Debian's headless Chromium through a
# visitor's story (web/e2e/browser-test.mjs). Screenshots: web/e2e/screenshots/NN-step.png.
# Exits with the test's code; the last line it prints is `N passed, N failed`.
#
#   scripts/browser-test.sh
#   API_ADDR=127.0.0.1:3100 SITE_ADDR=127.0.0.1:3101 scripts/browser-test.sh
#
# Installs Chromium with apt when /usr/bin/chromium is missing (never a browser download),
# runs `npm ci` only when web/package-lock.json changed since the last install, and rebuilds
# web/dist only when a source is newer than it.
set -euo pipefail
cd "$(dirname "$0")/.."

API_ADDR="${API_ADDR:-127.0.0.1:3000}"
SITE_ADDR="${SITE_ADDR:-127.0.0.1:3001}"
START_TIMEOUT="${SERVER_START_TIMEOUT:-60}"

echo "--- Chromium"
if [[ ! -x /usr/bin/chromium ]]; then
    SUDO=""
    [[ $EUID -ne 0 ]] && SUDO="sudo"
    echo "installing Debian's chromium with apt"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version 2>/dev/null

echo "--- web/: install and build"
node -e 'const [a, b] = process.versions.node.split(".").map(Number);
  if (a < 20 || (a === 20 && b < 19)) { console.error(`Node ${process.version}: web/ needs 20.19 or newer (Vite 8)`); process.exit(1); }'
(
    cd web
    if [[ ! -d node_modules ]] || ! cmp -s package-lock.json node_modules/.installed-package-lock.json; then
        npm ci --no-audit --no-fund --loglevel=error >/dev/null
        cp package-lock.json node_modules/.installed-package-lock.json
    fi
    if [[ ! -f dist/index.html ]] ||
        [[ -n "$(find index.html vite.config.js package.json package-lock.json src public -newer dist/index.html -print -quit)" ]]; then
        npm run --silent build -- --logLevel error
        echo "built web/dist"
    else
        echo "web/dist is up to date"
    fi
)

# The test must talk to the server started here, not to one left running.
for addr in "$API_ADDR" "$SITE_ADDR"; do
    if curl -s -o /dev/null --max-time 2 "http://$addr/"; then
        echo "something already answers on $addr: stop it, or set API_ADDR / SITE_ADDR" >&2
        exit 1
    fi
done

echo "--- chat-local: the API on $API_ADDR, the demo site on $SITE_ADDR"
cargo build -q --locked -p chat-local
LOG="$(mktemp)"
# In its own process group, so that stopping it stops whatever it started.
set -m
cargo run -q --locked -p chat-local -- serve --addr "$API_ADDR" --site-dir web/dist --site-addr "$SITE_ADDR" \
    >"$LOG" 2>&1 &
SERVER=$!
set +m
stop_server() {
    kill -TERM -- "-$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
}
trap 'stop_server; rm -f "$LOG"' EXIT

deadline=$((SECONDS + START_TIMEOUT))
until curl -s -o /dev/null --max-time 2 "http://$API_ADDR/" &&
    curl -sf -o /dev/null --max-time 2 "http://$SITE_ADDR/config.json"; do
    if ! kill -0 "$SERVER" 2>/dev/null; then
        echo "chat-local stopped before answering:" >&2
        cat "$LOG" >&2
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        echo "chat-local did not answer on $API_ADDR and http://$SITE_ADDR/config.json within ${START_TIMEOUT} s:" >&2
        cat "$LOG" >&2
        exit 1
    fi
    sleep 0.2
done
grep -m1 "demo site:" "$LOG" || true

echo "--- the widget's reading of citations (web/src/citations.test.mjs)"
node web/src/citations.test.mjs

echo "--- browser test (web/e2e/browser-test.mjs)"
set +e
SITE_URL="http://$SITE_ADDR/" API_URL="http://$API_ADDR" node web/e2e/browser-test.mjs
status=$?
set -e
if ((status != 0)); then
    echo "--- chat-local's log, last 40 lines"
    tail -n 40 "$LOG"
fi
exit "$status"
