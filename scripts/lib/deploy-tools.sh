# Sourced by scripts/check-template.sh and scripts/sam-build.sh: installs their pinned Python
# tools into a venv of their own and puts it first on PATH. Nothing is installed globally.
#
#   DEPLOY_VENV   where the venv lives (default: .venv-deploy/ at the repository root, gitignored)
#
# A venv is reused as long as the requirement files it was made from are unchanged (a stamp
# holds their checksum), so only the first run pays for the download (about 30 s for the
# check tools; cargo-lambda and zig add about 60 MB).

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEPLOY_VENV="${DEPLOY_VENV:-$repo_root/.venv-deploy}"

# ensure_deploy_tools FILE...: the requirement files (under scripts/) to have installed.
ensure_deploy_tools() {
    local files=() f
    for f in "$@"; do files+=("$repo_root/scripts/$f"); done
    local constraints="$repo_root/scripts/deploy-constraints.txt"
    local sum
    sum="$(cat "${files[@]}" "$constraints" | sha256sum | cut -c1-16)"
    local stamp="$DEPLOY_VENV/.installed-$sum"
    if [[ ! -f "$stamp" ]]; then
        echo "--- installing pinned tools into $DEPLOY_VENV ($*)"
        if [[ ! -x "$DEPLOY_VENV/bin/python" ]]; then
            python3 -m venv "$DEPLOY_VENV"
        fi
        local args=() 
        for f in "${files[@]}"; do args+=(-r "$f"); done
        "$DEPLOY_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            -c "$constraints" "${args[@]}"
        touch "$stamp"
    fi
    export PATH="$DEPLOY_VENV/bin:$PATH"
    # Offline and quiet: no telemetry to AWS, no credentials needed, a fixed region for the
    # linters' region-dependent rules.
    export SAM_CLI_TELEMETRY=0
    export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
}
