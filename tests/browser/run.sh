#!/usr/bin/env bash
# Runs the browser tests (tests/browser/*.test.mjs) with node's test runner against the given
# battled binary; ctest's test_browser calls it (tests/browser/browser.cmake).
#   tests/browser/run.sh BUILD/net/battled ARTIFACT_DIR
# Needs node, Debian's chromium and node_modules/ (npm ci, which scripts/bootstrap runs). When one
# is missing the tests are skipped (exit 77) with the reason, except under CI=true, where that is
# a failure: CI must run them.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:?usage: run.sh BATTLED ARTIFACT_DIR}
artifacts=${2:?usage: run.sh BATTLED ARTIFACT_DIR}
chromium=${CHROMIUM:-/usr/bin/chromium}

missing=()
command -v node >/dev/null 2>&1 || missing+=("node (apt-get install nodejs)")
[ -x "$chromium" ] || missing+=("$chromium (apt-get install chromium)")
for m in puppeteer-core @msgpack/msgpack; do
    [ -f "$src/node_modules/$m/package.json" ] || missing+=("node_modules/$m (run scripts/bootstrap, or npm ci)")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "${CI:-}" = "true" ]; then
        echo "browser tests: FAIL: missing ${missing[*]}" >&2
        exit 1
    fi
    echo "browser tests: SKIPPED: missing ${missing[*]}"
    exit 77
fi

# puppeteer-core never downloads a browser; this keeps any other npm step from doing so either.
export PUPPETEER_SKIP_DOWNLOAD=1
export BATTLED=$bin BATTLED_SOURCE_DIR=$src BROWSER_ARTIFACTS=$artifacts CHROMIUM=$chromium
mkdir -p "$artifacts"
cd "$src"
exec node --test tests/browser/model.test.mjs tests/browser/play.test.mjs
