#!/usr/bin/env bash
# The CPU kernels tested on every tier they ship in, strictly (docs/CORRECTNESS.md, "Kernel tiers"):
#   AX_REQUIRE_ISA=avx2,avx2-vnni,avx512,amx scripts/test-kernel-tiers.sh [BUILD_DIR]   (default build/)
# 1. The backend tests with AX_REQUIRE_ISA as given (default: avx2): the kernel tests run every
#    tier this CPU has side by side (each against the reference, batch invariance, the tiers'
#    bits against each other), and a tier the list names that this CPU lacks fails instead of
#    being left out. AX_REQUIRE_ISA=all requires every tier, AMX included.
# 2. The backend and model tests (conformance, golden logits, batch invariance of whole models)
#    once per tier this CPU runs, the engine capped to it with AX_CPU_TIER.
# Run it on each kind of machine the kernels ship to whenever they change (AVX2-only, AVX-512,
# AMX), and record the run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
export AX_REQUIRE_ISA=${AX_REQUIRE_ISA:-avx2}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target ax_test_backend ax_test_model ax-engine
echo "AX_REQUIRE_ISA=$AX_REQUIRE_ISA on: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
{ "$BUILD/ax-engine" doctor --no-bandwidth || true; } | grep -E '^ +(features|kernels):'
# run LABEL COMMAND...: quiet unless it fails; then its whole output.
run() {
  local label=$1 log
  shift
  log=$(mktemp)
  if "$@" >"$log" 2>&1; then
    echo "$label: $(grep -E '^\[  PASSED  \]' "$log")"
    grep -E '^\[  SKIPPED \] [A-Za-z][^(]*$' "$log" | sed 's/^/  /' || true
  else
    cat "$log"
    echo "$label: FAILED"
    exit 1
  fi
  rm -f "$log"
}
run "kernel tests, every tier side by side" "$BUILD/tests/ax_test_backend" --gtest_filter='-*cuda*:*Cuda*'
# The tiers this CPU runs: those the engine keeps when capped to them.
tiers=""
for tier in scalar avx2 avx2-vnni avx512; do
  got=$({ AX_CPU_TIER=$tier "$BUILD/ax-engine" doctor --no-bandwidth --json || true; } |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["machine"]["backends"]["cpu"]["kernel_tier"])')
  [ "${got%+amx}" = "$tier" ] && tiers="$tiers $tier"
done
for tier in $tiers; do
  run "AX_CPU_TIER=$tier backend tests" env AX_CPU_TIER=$tier "$BUILD/tests/ax_test_backend" --gtest_filter='-*cuda*:*Cuda*'
  run "AX_CPU_TIER=$tier model tests" env AX_CPU_TIER=$tier "$BUILD/tests/ax_test_model" --gtest_filter='-*cuda*:*Cuda*'
done
echo "all kernel tiers passed: $tiers"
