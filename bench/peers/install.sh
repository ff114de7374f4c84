#!/usr/bin/env bash
# Installs the benchmark's peers, pinned and reproducibly, and makes their deployment
# packages. Idempotent: a step whose inputs have not changed is skipped.
#
#   node/node_modules     npm ci from package-lock.json (builds aws-lambda-ric's native code)
#   node/dist/*.mjs       one esbuild bundle per function (node/build.mjs)
#   python/.venv          pip install --require-hashes of requirements.txt and requirements-ric.txt
#   packages/*.zip        what a user would upload to Lambda, to report its size
#   .tools/               CMake from PyPI (build-tools.txt), only where the machine has none
#
# Environment: PYTHON (default python3), NICE (default "nice -n 10"; empty to not nice).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
node_dir="$here/node"
python_dir="$here/python"
packages="$here/packages"
python="${PYTHON:-python3}"
nice=${NICE-nice -n 10}
export PIP_DISABLE_PIP_VERSION_CHECK=1 npm_config_update_notifier=false

started=$SECONDS
step() { printf '%-30s %s\n' "$1" "$2"; }
elapsed() { echo "$(( SECONDS - $1 )) s"; }
fingerprint() { cat "$@" | sha256sum | cut -d' ' -f1; }
# Whether any of the files after the first is newer than the first (or it is missing).
stale() { local target=$1; shift; [[ ! -e $target ]] || [[ -n $(find "$@" -newer "$target" -print -quit) ]]; }
# A zip whose bytes depend only on its files: fixed times, no extra attributes.
zip_dir() {
  local dir=$1 out=$2
  find "$dir" -exec touch -h -d '1980-01-01 00:00:00' {} +
  rm -f "$out"
  (cd "$dir" && find . -type f | LC_ALL=C sort | TZ=UTC zip -X -9 -q "$out" -@)
}

# --- Node.js -------------------------------------------------------------------------
node_major=$(node -p 'process.versions.node.split(".")[0]')
(( node_major >= 20 )) || { echo "Node.js 20 or later is needed (found $(node --version))" >&2; exit 1; }

stamp="$node_dir/node_modules/.peers-install"
want=$(fingerprint "$node_dir/package.json" "$node_dir/package-lock.json")
if [[ -f $stamp && $(cat "$stamp") == "$want" && -f $node_dir/node_modules/aws-lambda-ric/dist/rapid-client.node ]]; then
  step "node: npm ci" "skipped (node_modules matches package-lock.json)"
else
  # aws-lambda-ric builds curl and aws-lambda-cpp from source at install: CMake from PyPI
  # (pinned, hashed) when the machine has none, the rest from the distribution.
  if ! command -v cmake >/dev/null; then
    tools="$here/.tools"
    want_tools=$(fingerprint "$here/build-tools.txt"; "$python" --version)
    if [[ ! -x $tools/bin/cmake || $(cat "$tools/.peers-install" 2>/dev/null) != "$want_tools" ]]; then
      t=$SECONDS
      rm -rf "$tools"
      "$python" -m venv "$tools"
      $nice "$tools/bin/pip" install --quiet --require-hashes --no-deps --only-binary=:all: \
        -r "$here/build-tools.txt"
      echo "$want_tools" >"$tools/.peers-install"
      step "pip: cmake" "installed $("$tools/bin/cmake" --version | head -1) into .tools/ ($(elapsed $t))"
    fi
    export PATH="$tools/bin:$PATH"
  fi
  missing=()
  for tool in make g++ autoreconf aclocal libtoolize python3; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  if (( ${#missing[@]} )); then
    # Debian's own versions of its release: apt has no portable way to pin them further.
    debs="build-essential autoconf automake libtool python3"
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
      t=$SECONDS
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $debs >/dev/null
      step "apt: build tools" "installed $debs for ${missing[*]} ($(elapsed $t); for aws-lambda-ric's native build)"
    else
      echo "aws-lambda-ric builds native code; missing: ${missing[*]}. Install: apt-get install $debs" >&2
      exit 1
    fi
  fi
  t=$SECONDS
  (cd "$node_dir" && $nice npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
  step "node: npm ci" "done ($(elapsed $t))"
fi

if stale "$node_dir/dist/completion.mjs" "$node_dir/src" "$node_dir/build.mjs" "$node_dir/package-lock.json" \
  || stale "$node_dir/dist/get.mjs" "$node_dir/src" "$node_dir/build.mjs" "$node_dir/package-lock.json"; then
  t=$SECONDS
  rm -rf "$node_dir/dist"
  (cd "$node_dir" && node build.mjs >/dev/null)
  step "node: esbuild bundles" "done ($(elapsed $t)): dist/get.mjs, dist/completion.mjs"
else
  step "node: esbuild bundles" "skipped (newer than src/)"
fi

mkdir -p "$packages"
for fn in get completion; do
  out="$packages/node-$fn.zip"
  if stale "$out" "$node_dir/dist/$fn.mjs"; then
    stage=$(mktemp -d)
    cp "$node_dir/dist/$fn.mjs" "$stage/"
    zip_dir "$stage" "$out"
    rm -rf "$stage"
    step "node: package $fn" "made packages/node-$fn.zip"
  else
    step "node: package $fn" "skipped (newer than the bundle)"
  fi
done

# --- Python --------------------------------------------------------------------------
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || { echo "Python 3.10 or later is needed for awslambdaric (found $("$python" --version))" >&2; exit 1; }
venv="$python_dir/.venv"
stamp="$venv/.peers-install"
want=$(fingerprint "$python_dir/requirements.txt" "$python_dir/requirements-ric.txt"; "$python" --version)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
  step "python: venv" "skipped (.venv matches the requirements)"
else
  t=$SECONDS
  rm -rf "$venv"
  "$python" -m venv "$venv"
  $nice "$venv/bin/pip" install --quiet --require-hashes --no-deps --only-binary=:all: \
    -r "$python_dir/requirements.txt" -r "$python_dir/requirements-ric.txt"
  echo "$want" >"$stamp"
  step "python: venv" "done ($(elapsed $t)): $("$venv/bin/python" --version), $(cd "$python_dir" && .venv/bin/pip freeze | tr '\n' ' ')"
fi

site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
shopt -s nocaseglob  # dist-info folders are named as each wheel spells its project
# What the managed runtime lacks: the function and PyJWT (it has a boto3 of its own) ...
out="$packages/python-get.zip"
if stale "$out" "$python_dir/get.py" "$stamp"; then
  stage=$(mktemp -d)
  cp "$python_dir/get.py" "$stage/"
  cp -r "$site/jwt" "$site"/PyJWT-*.dist-info "$stage/"
  find "$stage" -name __pycache__ -prune -exec rm -rf {} +
  zip_dir "$stage" "$out"
  rm -rf "$stage"
  step "python: package get" "made packages/python-get.zip (get.py, PyJWT)"
else
  step "python: package get" "skipped (up to date)"
fi
# ... and, for comparison, with its own pinned boto3 as AWS advises for production.
out="$packages/python-get-with-boto3.zip"
if stale "$out" "$python_dir/get.py" "$stamp" "$here/install.sh"; then
  stage=$(mktemp -d)
  cp "$python_dir/get.py" "$stage/"
  for dist in PyJWT boto3 botocore jmespath python_dateutil s3transfer six urllib3; do
    for record in "$site/$dist"-*.dist-info/RECORD; do
      (cd "$site" && cut -d, -f1 "$record" | grep -v -e '^\.\./' -e '__pycache__' \
        | xargs -d '\n' cp --parents -t "$stage")
      # The packaged RECORD lists what the package holds: not the venv's console scripts
      # (../../../bin/*, whose shebang names the venv's path: the zip would differ from one
      # clone to another) nor the bytecode left out.
      sed -i -e '/^\.\.\//d' -e '/__pycache__/d' "$stage/${record#"$site/"}"
    done
  done
  zip_dir "$stage" "$out"
  rm -rf "$stage"
  step "python: package get+boto3" "made packages/python-get-with-boto3.zip"
else
  step "python: package get+boto3" "skipped (up to date)"
fi

for zip in "$packages"/*.zip; do
  step "size" "$(basename "$zip"): $(stat -c %s "$zip") bytes zipped, $(unzip -Zt "$zip" | sed -E 's/.* ([0-9]+) bytes uncompressed.*/\1/') unzipped"
done
step "total" "$(elapsed $started)"
