#!/usr/bin/env bash
# `ax-engine top` end to end (tests/top.cmake registers it): a real server, top running in a tmux
# pane of 120 x 40, and load from four streaming clients. Checks that the pane shows the model and
# readiness when idle, then a positive throughput, the requests in flight and a token count that
# moves between two captures under load; that q quits; and that --once prints one frame (and fails
# with a clear message when the server cannot be reached).
# Usage: top_e2e.sh AX_ENGINE SOURCE_DIR
set -uo pipefail
AX="$1"
SRC="$2"
TMP="$(mktemp -d)"
SESSION="axtop$$"
server_pid=""
load_pid=""
cleanup() {
  tmux kill-session -t "$SESSION" 2>/dev/null
  [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
die() {
  echo "FAIL: $*" >&2
  [ -f "$TMP/pane" ] && { echo "--- last capture" >&2; cat "$TMP/pane" >&2; }
  exit 1
}
capture() { tmux capture-pane -p -t "$SESSION" >"$TMP/pane" 2>/dev/null; }
# wait_for SECONDS PATTERN: until a capture matches the extended regex.
wait_for() {
  local deadline=$((SECONDS + $1))
  while [ $SECONDS -lt $deadline ]; do
    capture
    grep -Eq "$2" "$TMP/pane" && return 0
    sleep 0.2
  done
  return 1
}

"$AX" serve --model "$SRC/models/ax-code-15m" --port 0 --threads 2 2>"$TMP/server.log" &
server_pid=$!
for _ in $(seq 300); do
  port="$(grep -oE 'listening on http://[^:]+:[0-9]+' "$TMP/server.log" | grep -oE '[0-9]+$')"
  [ -n "$port" ] && grep -q "ready on" "$TMP/server.log" && break
  sleep 0.1
done
[ -n "${port:-}" ] || die "the server did not start: $(cat "$TMP/server.log")"
URL="http://127.0.0.1:$port"

# One frame, no terminal: the header and the numbers; an unreachable server is a clear error.
"$AX" top --url "$URL" --once --interval 0.3 >"$TMP/once" 2>&1 || die "--once failed: $(cat "$TMP/once")"
grep -q "ax-engine top  $URL  ax-code-15m (qwen3, cpu" "$TMP/once" || die "--once header: $(cat "$TMP/once")"
grep -q "(none in flight)" "$TMP/once" || die "--once requests: $(cat "$TMP/once")"
if "$AX" top --url http://127.0.0.1:9 --once --interval 0.1 >"$TMP/down" 2>&1; then die "an unreachable server passed"; fi
grep -q "cannot reach the server" "$TMP/down" || die "unreachable: $(cat "$TMP/down")"

tmux new-session -d -s "$SESSION" -x 120 -y 40 "'$AX' top --url '$URL' --interval 0.5" || die "tmux did not start"
wait_for 20 "ax-engine top .*ax-code-15m .*\[ready\]" || die "no header"
grep -q "(none in flight)" "$TMP/pane" || die "idle: requests listed"

# Four clients streaming long generations.
python3 - "$URL" >"$TMP/load.log" 2>&1 <<'PY' &
import json, sys, threading, urllib.request
url = sys.argv[1]
def stream(i):
    for _ in range(3):
        body = json.dumps({"input_text": f"def f{i}(x):\n", "max_output_tokens": 1500, "ignore_eos": True}).encode()
        req = urllib.request.Request(url + "/v1/generate/stream", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            for _ in r:
                pass
threads = [threading.Thread(target=stream, args=(i,)) for i in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
PY
load_pid=$!

wait_for 30 "throughput +[1-9][0-9]* tok/s" || die "no throughput under load"
wait_for 30 "/v1/generate/stream" || die "no request in flight listed"
first="$(grep -oE 'generated +[0-9]+ tokens' "$TMP/pane" | grep -oE '[0-9]+')"
sleep 1.5
capture
second="$(grep -oE 'generated +[0-9]+ tokens' "$TMP/pane" | grep -oE '[0-9]+')"
[ -n "$first" ] && [ -n "$second" ] && [ "$second" -gt "$first" ] || die "the token count did not move ($first -> $second)"
grep -Eq "queue +[0-9]+ waiting [1-9][0-9]* running" "$TMP/pane" || die "no running sequences shown"

tmux send-keys -t "$SESSION" q
for _ in $(seq 30); do
  tmux has-session -t "$SESSION" 2>/dev/null || break
  sleep 0.1
done
tmux has-session -t "$SESSION" 2>/dev/null && die "q did not quit"
echo "PASS: top showed $first -> $second generated tokens under load"
