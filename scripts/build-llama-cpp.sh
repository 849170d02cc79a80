#!/usr/bin/env bash
# Builds llama.cpp (the peer we compare against) from the source bundled in the npm package
# node-llama-cpp into third_party/llama.cpp (git-ignored; never committed): its benchmark tools
# for `bench speed --peer llama.cpp`, and llama-server for `bench run --url` (docs/BENCH.md).
#   scripts/build-llama-cpp.sh [--cuda]
# The package's llama/gitRelease.bundle is a git bundle of llama.cpp. GGML_NATIVE=ON crashes in
# the AMX kernels on the Sapphire Rapids VMs we run on, so the build names its ISA options
# explicitly: AVX2/AVX-512 (F, VNNI, BF16) on, AMX off.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=${LLAMA_CPP_DIR:-$ROOT/third_party/llama.cpp}
VERSION=${NODE_LLAMA_CPP_VERSION:-3.22.1}
CUDA=OFF; [ "${1:-}" = "--cuda" ] && CUDA=ON
JOBS=${JOBS:-$(nproc)}
TARGETS=(llama-bench llama-completion llama-quantize llama-tokenize llama-batched-bench llama-cli llama-server)

mkdir -p "$DEST"
if [ ! -d "$DEST/src/.git" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-llama-cpp@$VERSION" >/dev/null)
  tar -xzf "$tmp"/node-llama-cpp-*.tgz -C "$tmp" package/llama/gitRelease.bundle
  git clone -q "$tmp/package/llama/gitRelease.bundle" "$DEST/src"
  rm -rf "$tmp"
fi
build=$DEST/build-cpu; [ "$CUDA" = ON ] && build=$DEST/build-cuda
cmake -S "$DEST/src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
  -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AVX_VNNI=ON \
  -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF \
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
