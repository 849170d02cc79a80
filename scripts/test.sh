#!/usr/bin/env bash
# Installs dependencies, builds everything and runs every test (the README's second command).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
# The fuzz smoke runs (label "fuzz") are left out: building the fuzzers is most of their cost.
# `ctest -L fuzz` runs them; .ci/run does, briefly.
cd build && ctest --output-on-failure -j "$(nproc)" --timeout 900 -LE fuzz
