#!/usr/bin/env bash
# Runs one benchmark manifest against our server and against llama.cpp's llama-server on the same
# GGUF file, through the same client (`bench run --url`), then compares and plots the two
# (docs/BENCH.md, "Peers"). Build llama.cpp first: scripts/build-llama-cpp.sh.
#
#   scripts/bench-peer.sh MANIFEST --model M.gguf [--variant V] [--threads T] [--slots N]
#                         [--repeat R] [--out DIR]
#
# Both servers get the same threads; llama-server gets N parallel slots (default 16) of the
# model's context each (capped at 4096), with its default continuous batching and prompt cache;
# ours its defaults. Artifacts: DIR/ax, DIR/llama.cpp, DIR/plots, and DIR/llama.cpp/*/comparison.md
# (base: ours, candidate: llama-server). A manifest check that fails on either engine is reported
# (bench run's exit code 3 or 4) and the comparison still runs. Exit status: bench compare's.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
AX=${AX_ENGINE:-$ROOT/build/ax-engine}
LLAMA_BIN=${AX_LLAMA_CPP_BIN:-$ROOT/third_party/llama.cpp/build-cpu/bin}

MANIFEST=""; MODEL=""; VARIANT=""; THREADS=$(nproc); SLOTS=16; REPEAT=""; OUT=bench-peer
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL=$2; shift 2 ;;
    --variant) VARIANT=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --slots) SLOTS=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -*) echo "unknown option $1" >&2; exit 1 ;;
    *) MANIFEST=$1; shift ;;
  esac
done
[ -n "$MANIFEST" ] && [ -n "$MODEL" ] || { echo "usage: $0 MANIFEST --model M.gguf [options]" >&2; exit 1; }
[ -x "$AX" ] || { echo "$AX not found: build it first (cmake --build build --target ax-engine)" >&2; exit 1; }
[ -x "$LLAMA_BIN/llama-server" ] || { echo "$LLAMA_BIN/llama-server not found: run scripts/build-llama-cpp.sh" >&2; exit 1; }

RUN_ARGS=(--model "$MODEL" --no-progress)
[ -n "$VARIANT" ] && RUN_ARGS+=(--variant "$VARIANT")
[ -n "$REPEAT" ] && RUN_ARGS+=(--repeat "$REPEAT")
TMP=$(mktemp -d)
SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
trap 'stop_server; rm -rf "$TMP"' EXIT

wait_healthy() {  # URL
  for _ in $(seq 1 600); do
    curl -sf "$1/health" >/dev/null 2>&1 && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server exited:" >&2; cat "$TMP/server.log" >&2; exit 1; }
    sleep 0.2
  done
  echo "the server at $1 never became healthy" >&2
  exit 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Ours: `ax-engine serve` prints "listening on http://127.0.0.1:PORT" first.
"$AX" serve --model "$MODEL" --port 0 --threads "$THREADS" 2>"$TMP/server.log" &
SERVER_PID=$!
for _ in $(seq 1 300); do
  PORT=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$TMP/server.log" | head -1)
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "${PORT:-}" ] || { echo "ax-engine serve did not start:" >&2; cat "$TMP/server.log" >&2; exit 1; }
wait_healthy "http://127.0.0.1:$PORT"
run_manifest() {  # URL OUT [--api openai]: a failed check (3) or missed threshold (4) is a result
  local rc=0
  "$AX" bench run "$MANIFEST" "${RUN_ARGS[@]}" --url "$1" --out "$2" "${@:3}" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ] && [ "$rc" -ne 4 ]; then exit "$rc"; fi
}
run_manifest "http://127.0.0.1:$PORT" "$OUT/ax"
stop_server

# llama-server on the same file, same threads.
CTX=$("$AX" inspect --model "$MODEL" --json | python3 -c 'import json,sys; c=json.load(sys.stdin)["config"]; print(min(int(c.get("max_position_embeddings", 4096)), 4096))')
PORT=$(free_port)
"$LLAMA_BIN/llama-server" -m "$MODEL" --host 127.0.0.1 --port "$PORT" -t "$THREADS" -np "$SLOTS" -c $((CTX * SLOTS)) \
  >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
wait_healthy "http://127.0.0.1:$PORT"
run_manifest "http://127.0.0.1:$PORT" "$OUT/llama.cpp" --api openai
stop_server

BASE=$(ls -d "$OUT"/ax/*/ | tail -1)
CAND=$(ls -d "$OUT"/llama.cpp/*/ | tail -1)
"$AX" bench plot "$BASE" "$CAND" --out "$OUT/plots" >/dev/null
"$AX" bench compare "$BASE" "$CAND" --max-regression 5%
