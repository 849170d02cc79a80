#!/usr/bin/env bash
# Installs a folder's pinned npm packages (its package-lock.json) when they are missing or the
# lock changed since the last install; does nothing otherwise.
#   bash tests/npm_ci_once.sh FOLDER
set -euo pipefail
cd "${1:?usage: npm_ci_once.sh FOLDER}"
if ! cmp -s package-lock.json node_modules/.ax-installed-lock 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.ax-installed-lock
fi
