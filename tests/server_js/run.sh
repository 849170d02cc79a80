#!/usr/bin/env bash
# The client-library tests (the openai SDK, LangChain JS, the Vercel AI SDK): installs the pinned
# packages (package-lock.json) when needed, then runs every
# *.test.mjs here against the ax-engine binary given as $1.
set -euo pipefail
cd "$(dirname "$0")"
export AX_ENGINE_BINARY="${1:?usage: run.sh path/to/ax-engine}"
# (Re)install when package-lock.json changed since the last install.
if ! cmp -s package-lock.json node_modules/.ax-installed-lock 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.ax-installed-lock
fi
exec node --test --test-concurrency=1 ./*.test.mjs
