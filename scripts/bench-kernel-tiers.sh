#!/usr/bin/env bash
# `ax-engine bench speed` on each CPU kernel tier, each beside llama.cpp built for the same ISA,
# the tiers alternating (docs/PERFORMANCE.md, "Kernel tiers side by side"):
#   scripts/bench-kernel-tiers.sh MODEL.gguf [bench speed options]   (default: -p 512 -n 128 -t 2 -r 3)
# TIERS (default "avx2 native"): a tier name runs with AX_CPU_TIER=<tier> against
# third_party/llama.cpp/build-cpu-<tier> (LLAMA_CPP_ISA=<tier> scripts/build-llama-cpp.sh);
# "native" runs the widest tier this CPU has against build-cpu (scripts/build-llama-cpp.sh).
# ROUNDS (default 2) rounds of all tiers. One JSON line per run, after a '#' line with the time and
# the load average (on a shared machine, compare only the ratios of one line).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 MODEL.gguf [bench speed options]" >&2; exit 2; }
MODEL=$1
shift
[ $# -gt 0 ] || set -- -p 512 -n 128 -t 2 -r 3
AX=${AX_ENGINE:-$ROOT/build/ax-engine}
LCPP=$ROOT/third_party/llama.cpp
for tier in ${TIERS:-avx2 native}; do
  bin=$LCPP/build-cpu$([ "$tier" = native ] || echo "-$tier")/bin
  [ -x "$bin/llama-bench" ] || { echo "$bin/llama-bench missing: build it with $([ "$tier" = native ] || echo "LLAMA_CPP_ISA=$tier ")scripts/build-llama-cpp.sh" >&2; exit 1; }
done
for round in $(seq "${ROUNDS:-2}"); do
  for tier in ${TIERS:-avx2 native}; do
    echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1 /proc/loadavg) tier $tier round $round"
    if [ "$tier" = native ]; then
      AX_LLAMA_CPP_BIN=$LCPP/build-cpu/bin "$AX" bench speed --model "$MODEL" "$@" --peer llama.cpp --json
    else
      AX_CPU_TIER=$tier AX_LLAMA_CPP_BIN=$LCPP/build-cpu-$tier/bin "$AX" bench speed --model "$MODEL" "$@" --peer llama.cpp --json
    fi
  done
done
