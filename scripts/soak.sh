#!/usr/bin/env bash
# Soak test (not in CI): an ax-engine server under mixed, partly rude load from many clients for a
# long time, then checks that nothing leaked. docs/RELIABILITY.md records runs.
#
#   scripts/soak.sh [--minutes 60] [--clients 64] [--model models/ax-code-15m] [--port 18500]
#
# The server runs with --max-concurrent 48, so 64 clients also meet 429s. The load and the checks
# are scripts/soak.py (blocking, streamed, hung-up and slowly read requests, forced tool calls,
# json_schema output, malformed bodies, /health and /metrics): no unexpected answer, no KV block
# left in use, threads and fds back to where they started, RSS flat over the last two thirds.
# At the end the server gets SIGTERM and must exit 0. Exit status 0: all held.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
minutes=60 clients=64 model="$ROOT/models/ax-code-15m" port=18500
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    *) echo "soak.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
BIN="$ROOT/build/ax-engine"
[ -x "$BIN" ] || { echo "soak.sh: build ax-engine first ($BIN)" >&2; exit 2; }
log="$(mktemp /tmp/ax-soak-server.XXXXXX.log)"
"$BIN" serve --model "$model" --port "$port" --max-concurrent 48 --threads "$(nproc)" 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.1
done
echo "soak: server pid $pid on port $port, $clients clients for $minutes min (server log: $log)"
status=0
python3 "$ROOT/scripts/soak.py" --port "$port" --pid "$pid" --minutes "$minutes" --clients "$clients" || status=$?
kill -TERM "$pid"
server_exit=0
wait "$pid" || server_exit=$?
trap - EXIT
if [ "$server_exit" -ne 0 ]; then
  echo "soak: FAIL: the server exited $server_exit on SIGTERM" >&2
  status=1
fi
exit "$status"
