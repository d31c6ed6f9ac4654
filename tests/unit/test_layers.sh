#!/usr/bin/env bash
# test_layers: the include check that keeps docs/ARCHITECTURE.md's folder table true.
# 1. The repository itself follows its table.
# 2. The check is not vacuous: in a scratch copy of the table with one folder given an include it
#    may not have (core/ including net/, a layer above it), the check must fail and name the file.
# 3. A header in an allowed folder passes, and one of another layer's own folders is not confused
#    with a system header ("uv.h" has no folder and is ignored).
set -euo pipefail
src=${1:?usage: test_layers.sh SOURCE_DIR}
check="$src/scripts/check-layers"

"$check" "$src"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/docs" "$tmp/core" "$tmp/net" "$tmp/util"
cp "$src/docs/ARCHITECTURE.md" "$tmp/docs/"
printf '#include "util/mix.h"\n#include "uv.h"\n#include <stdio.h>\n' > "$tmp/net/ok.c"
printf '#include "util/mix.h"\n' > "$tmp/core/fine.c"
"$check" "$tmp" >/dev/null || { echo "FAIL: an allowed tree was refused"; exit 1; }

printf '#include "core/battle.h"\n  #  include "net/server.h"\n' > "$tmp/core/bad.c"
if out=$("$check" "$tmp"); then
    echo "FAIL: core/ including net/ was not caught"; exit 1
fi
grep -q 'core/bad.c:2: core -> net' <<<"$out" || { echo "FAIL: the violation was not named: $out"; exit 1; }
echo "test_layers: 3 checks passed"
