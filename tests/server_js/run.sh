#!/usr/bin/env bash
# The openai-SDK tests: installs the pinned SDK (package-lock.json) when needed, then runs every
# *.test.mjs here against the ax-engine binary given as $1.
set -euo pipefail
cd "$(dirname "$0")"
export AX_ENGINE_BINARY="${1:?usage: run.sh path/to/ax-engine}"
# Also when package-lock.json is newer than the install (a dependency added since: zod), or a
# worktree's node_modules would miss it.
if [ ! -d node_modules/openai ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec node --test --test-concurrency=1 ./*.test.mjs
