#!/usr/bin/env bash
# Rewrites docs/console-desktop.png and docs/console-phone.png: the console's browser tests
# (tests/console) run in headless Chromium and save what the page looks like under load.
#   bash scripts/console-screenshots.sh [build/ax-engine]
set -euo pipefail
cd "$(dirname "$0")/.."
AX_CONSOLE_SCREENSHOTS="$PWD/docs" bash tests/node_tests.sh tests/console "$(realpath "${1:-build/ax-engine}")"
