#!/bin/bash
# On the lent GPU host, call 1 of 2 (scripts/build-gpu-bins.sh says what to carry): starts the
# llama.cpp CUDA build detached (it survives the call while the machine stays warm) and runs the
# CUDA tests on the dense fixtures. Output: $OUT/gpu_tests_1.txt, $OUT/build.log.
cd "$(dirname "$0")/../.."
T0=$SECONDS
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
nproc; lscpu | grep "Model name"; cmake --version | head -1; nvcc --version | tail -1; which ninja
mkdir -p /tmp/lc && tar -xJf gpu-bins/llama-cuda-src.tar.xz -C /tmp/lc
setsid nohup bash -c 'cd /tmp/lc && cmake -S . -B b -G Ninja -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_CURL=OFF -DGGML_NATIVE=ON -DCMAKE_BUILD_TYPE=Release > /tmp/lc/cfg.log 2>&1 && nice -n 5 cmake --build b -j 14 --target llama-bench llama-batched-bench llama-quantize > /tmp/lc/build.log 2>&1; echo "done $?" > /tmp/lc/status' >/dev/null 2>&1 </dev/null &
cp models/stories260K/stories260K.gguf gpu-fixtures/models/stories260K/
AX_SHARED_DIR=$PWD/gpu-fixtures timeout 400 gpu-bins/ax_gpu_tests --gtest_filter='*cuda*:*Cuda*' > $OUT/gpu_tests_1.txt 2>&1
echo "tests rc=$? after $((SECONDS-T0)) s"
grep -E "^\[  (FAILED|PASSED|SKIPPED) |tests ran|FAILED TEST" $OUT/gpu_tests_1.txt | head -80
grep -c "^\[       OK" $OUT/gpu_tests_1.txt
while [ ! -f /tmp/lc/status ] && [ $((SECONDS-T0)) -lt 560 ]; do sleep 5; done
tail -3 /tmp/lc/cfg.log; tail -2 /tmp/lc/build.log; cat /tmp/lc/status 2>/dev/null; cp /tmp/lc/build.log $OUT/ 2>/dev/null
echo "end after $((SECONDS-T0)) s"
