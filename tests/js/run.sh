#!/usr/bin/env bash
# The JavaScript client's tests: builds js/ (tsc, with the pinned dev dependencies of
# js/package-lock.json installed when needed), then runs every *.test.mjs here with node's test
# runner against the ax-engine binary given as $1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
js="$here/../../js"
export AX_ENGINE_BINARY="${1:?usage: run.sh path/to/ax-engine}"
if ! cmp -s "$js/package-lock.json" "$js/node_modules/.ax-installed-lock" 2>/dev/null; then
  (cd "$js" && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.ax-installed-lock)
fi
(cd "$js" && ./node_modules/.bin/tsc -p .)
cd "$here"
exec node --test --test-concurrency=1 ./*.test.mjs
