#!/usr/bin/env bash
# Builds llama.cpp (the peer we compare against) from the source bundled in the npm package
# node-llama-cpp into third_party/llama.cpp (git-ignored; never committed): its benchmark tools
# for `bench speed --peer llama.cpp`, and llama-server for `bench run --url` (docs/BENCH.md).
#   scripts/build-llama-cpp.sh [--cuda]      build (binaries in third_party/llama.cpp/build-cpu/bin)
#   scripts/build-llama-cpp.sh --print-isa   only say which ISA options this host gets
# The package's llama/gitRelease.bundle is a git bundle of llama.cpp.
#
# ISA options come from this host's CPU flags (/proc/cpuinfo), so the binaries run where they are
# built: AVX/AVX2/FMA/F16C/BMI2, AVX-VNNI and AVX-512 (F/BW/VL/DQ, VNNI, BF16, VBMI) each on only
# where the CPU has them (a build naming AVX-512 dies with SIGILL on an AVX2-only CPU). Not
# GGML_NATIVE=ON: -march=native turns on ggml's AMX kernels, which crashed on the Sapphire Rapids
# VMs we run on. AMX stays off unless LLAMA_CPP_AMX=1 and the CPU has AMX-INT8.
# LLAMA_CPP_ISA=avx2|avx2-vnni|avx512 caps the options at one of our kernel tiers (as AX_CPU_TIER
# caps ours), to compare tier for tier on a wider CPU; the build then goes to build-cpu-<tier>.
# LLAMA_CPP_CPUINFO names another cpuinfo file (tests).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=${LLAMA_CPP_DIR:-$ROOT/third_party/llama.cpp}
VERSION=${NODE_LLAMA_CPP_VERSION:-3.22.1}
CUDA=OFF
PRINT_ONLY=0
case "${1:-}" in
  --cuda) CUDA=ON ;;
  --print-isa) PRINT_ONLY=1 ;;
  "") ;;
  *) echo "usage: $0 [--cuda | --print-isa]" >&2; exit 2 ;;
esac
JOBS=${JOBS:-$(nproc)}
TARGETS=(llama-bench llama-completion llama-quantize llama-tokenize llama-batched-bench llama-cli llama-server)

# ---- ISA options from the CPU flags -------------------------------------------------------------
CPUINFO=${LLAMA_CPP_CPUINFO:-/proc/cpuinfo}
FLAGS=" $(grep -m1 '^flags' "$CPUINFO" | cut -d: -f2) "
has() { for f in "$@"; do [[ "$FLAGS" == *" $f "* ]] || return 1; done; }
CAP=${LLAMA_CPP_ISA:-}
case "$CAP" in
  ""|avx2|avx2-vnni|avx512) ;;
  *) echo "LLAMA_CPP_ISA=$CAP: expected avx2, avx2-vnni or avx512" >&2; exit 2 ;;
esac
ISA_OPTS=()
ON=()
OFF=()
option() {  # option NAME LABEL on|off
  ISA_OPTS+=("-D$1=$([ "$3" = on ] && echo ON || echo OFF)")
  if [ "$3" = on ]; then ON+=("$2"); else OFF+=("$2"); fi
}
pick() {  # pick NAME LABEL allowed-by-cap FLAG...
  local name=$1 label=$2 allowed=$3
  shift 3
  if [ "$allowed" = yes ] && has "$@"; then option "$name" "$label" on; else option "$name" "$label" off; fi
}
vnni_ok=yes; [ "$CAP" = avx2 ] && vnni_ok=no
avx512_ok=yes; [ "$CAP" = avx2 ] || [ "$CAP" = avx2-vnni ] && avx512_ok=no
pick GGML_SSE42 SSE4.2 yes sse4_2
pick GGML_AVX AVX yes avx
pick GGML_AVX2 AVX2 yes avx2
pick GGML_FMA FMA yes fma
pick GGML_F16C F16C yes f16c
pick GGML_BMI2 BMI2 yes bmi2
pick GGML_AVX_VNNI AVX-VNNI "$vnni_ok" avx_vnni
pick GGML_AVX512 AVX-512 "$avx512_ok" avx512f avx512cd avx512bw avx512vl avx512dq
if [[ " ${ON[*]} " == *" AVX-512 "* ]]; then
  pick GGML_AVX512_VNNI AVX512-VNNI yes avx512_vnni
  pick GGML_AVX512_BF16 AVX512-BF16 yes avx512_bf16
  pick GGML_AVX512_VBMI AVX512-VBMI yes avx512vbmi
else
  option GGML_AVX512_VNNI AVX512-VNNI off
  option GGML_AVX512_BF16 AVX512-BF16 off
  option GGML_AVX512_VBMI AVX512-VBMI off
fi
AMX=off
[ "${LLAMA_CPP_AMX:-0}" = 1 ] && [ "$avx512_ok" = yes ] && has amx_tile amx_int8 && AMX=on
option GGML_AMX_TILE AMX-TILE $AMX
option GGML_AMX_INT8 AMX-INT8 $AMX
option GGML_AMX_BF16 AMX-BF16 "$([ $AMX = on ] && has amx_bf16 && echo on || echo off)"
echo "llama.cpp ISA options for this CPU${CAP:+ (capped at $CAP by LLAMA_CPP_ISA)}:"
echo "  on:  ${ON[*]:-none}"
echo "  off: ${OFF[*]:-none}"
[ $AMX = off ] && echo "  (AMX: LLAMA_CPP_AMX=1 turns it on where the CPU has AMX-INT8; it crashed on the Sapphire Rapids VMs we run on)"
[ "$PRINT_ONLY" = 1 ] && exit 0

# ---- source and build ---------------------------------------------------------------------------
mkdir -p "$DEST"
if [ ! -d "$DEST/src/.git" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-llama-cpp@$VERSION" >/dev/null)
  tar -xzf "$tmp"/node-llama-cpp-*.tgz -C "$tmp" package/llama/gitRelease.bundle
  git clone -q "$tmp/package/llama/gitRelease.bundle" "$DEST/src"
  rm -rf "$tmp"
fi
build=$DEST/build-cpu; [ "$CUDA" = ON ] && build=$DEST/build-cuda
[ -n "$CAP" ] && build=$build-$CAP
cmake -S "$DEST/src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF "${ISA_OPTS[@]}" \
  -DGGML_OPENMP=ON -DGGML_CUDA=$CUDA -DLLAMA_CURL=OFF -DLLAMA_BUILD_SERVER=ON \
  -DLLAMA_BUILD_TESTS=OFF >/dev/null
# Targets this llama.cpp version has (names moved between versions).
all_targets=$(ninja -C "$build" -t targets all 2>/dev/null)
avail=()
for t in "${TARGETS[@]}"; do
  grep -q "^$t:" <<<"$all_targets" && avail+=("$t")
done
ninja -C "$build" -j "$JOBS" "${avail[@]}"
echo "llama.cpp binaries: $build/bin"
