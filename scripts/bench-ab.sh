#!/usr/bin/env bash
# Two builds of ax-engine side by side against llama.cpp: for each model, `bench speed --peer
# llama.cpp` with build A then build B, and a second round with B first; one JSON line per run,
# so each build's ratio to the peer comes from the same command (absolute speeds drift on shared
# machines; the ratios hold).
#   scripts/bench-ab.sh BIN_A BIN_B MODEL.gguf... > runs.jsonl
# Environment: AX_LLAMA_CPP_BIN (the peer's bin folder), BENCH_ARGS (default "-p 512 -n 128 -t 2 -r 3").
set -euo pipefail
a="$1" b="$2"
shift 2
args=(${BENCH_ARGS:--p 512 -n 128 -t 2 -r 3})
for round in 1 2; do
  for model in "$@"; do
    if [ "$round" = 1 ]; then order=("$a" "$b"); else order=("$b" "$a"); fi
    for bin in "${order[@]}"; do
      line=$("$bin" bench speed --model "$model" "${args[@]}" --peer llama.cpp --json | tail -1)
      printf '{"round": %d, "binary": "%s", "load": "%s", "run": %s}\n' "$round" "$bin" \
        "$(cut -d' ' -f1 /proc/loadavg)" "$line"
    done
  done
done
