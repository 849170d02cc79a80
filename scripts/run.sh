#!/usr/bin/env bash
# Installs dependencies, builds ax-engine and generates a story with the bundled default model
# (the README's first command). Extra arguments go to `ax-engine generate`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >/dev/null
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target ax-engine
exec ./build/ax-engine generate --prompt "Once upon a time" --max-tokens 200 "$@"
