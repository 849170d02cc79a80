#!/usr/bin/env bash
# Builds AX Engine with its CUDA backend and runs the tests labelled gpu (the CUDA cases of the
# backend conformance, golden and engine tests) on a machine with an NVIDIA GPU, the CUDA toolkit
# and the Debian packages of scripts/install-deps.sh:
#   scripts/test-gpu.sh [BUILD_DIR]          (default build-gpu-tests/)
# A GPU host without those packages (the lent machines) runs the same tests from the static
# binaries of scripts/build-gpu-bins.sh instead:
#   AX_SHARED_DIR=$PWD/gpu-fixtures gpu-bins/ax_gpu_tests --gtest_filter='*cuda*:*Cuda*'
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-gpu-tests}
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DAX_CUDA=ON -DAX_BUILD_FUZZERS=OFF
grep -q "AX_HAVE_CUDA" "$BUILD/CMakeFiles/ax_backend.dir/flags.make" 2>/dev/null ||
  grep -q "AX_HAVE_CUDA" "$BUILD/build.ninja" || { echo "test-gpu.sh: nvcc was not found; no CUDA backend to test" >&2; exit 1; }
cmake --build "$BUILD" -j "$(nproc)"
cd "$BUILD" && ctest -L gpu --output-on-failure -j 1 --timeout 900
