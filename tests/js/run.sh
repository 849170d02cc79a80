#!/usr/bin/env bash
# The JavaScript client's tests: js/ compiled with tsc (its pinned dev dependencies installed
# when needed), then every *.test.mjs here against the ax-engine binary given as $1.
set -euo pipefail
tests="$(cd "$(dirname "$0")/.." && pwd)"
bash "$tests/npm_ci_once.sh" "$tests/../js"
(cd "$tests/../js" && ./node_modules/.bin/tsc -p .)
exec bash "$tests/node_tests.sh" "$tests/js" "${1:?usage: run.sh path/to/ax-engine}"
