#!/usr/bin/env bash
# Runs a folder's node tests (every *.test.mjs, node's test runner, one file at a time) against
# the ax-engine binary, after installing the folder's npm packages when it has any.
#   bash tests/node_tests.sh FOLDER path/to/ax-engine
set -euo pipefail
usage="usage: node_tests.sh FOLDER path/to/ax-engine"
dir="$(cd "${1:?$usage}" && pwd)"
export AX_ENGINE_BINARY="${2:?$usage}"
[ -f "$dir/package-lock.json" ] && bash "$(dirname "$0")/npm_ci_once.sh" "$dir"
cd "$dir"
exec node --test --test-concurrency=1 ./*.test.mjs
