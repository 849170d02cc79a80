#!/bin/bash
# On the lent GPU host, call 2 of 2 (right after call 1, or on a fresh machine): the CUDA tests on
# the MoE, latent-attention and gpt-oss fixtures (gpu-fixtures2), then random-weight GGUFs of real
# shapes timed with `bench speed --backend cuda --peer llama.cpp` against llama.cpp built there.
cd "$(dirname "$0")/../.."
T0=$SECONDS
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
if [ ! -f /tmp/lc/status ] && ! pgrep -f "cmake --build b" >/dev/null; then
  echo "fresh machine: starting the llama.cpp build"
  mkdir -p /tmp/lc && tar -xJf gpu-bins/llama-cuda-src.tar.xz -C /tmp/lc
  setsid nohup bash -c 'cd /tmp/lc && cmake -S . -B b -G Ninja -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_CURL=OFF -DGGML_NATIVE=ON -DCMAKE_BUILD_TYPE=Release > /tmp/lc/cfg.log 2>&1 && nice -n 5 cmake --build b -j 14 --target llama-bench llama-batched-bench llama-quantize > /tmp/lc/build.log 2>&1; echo "done $?" > /tmp/lc/status' >/dev/null 2>&1 </dev/null &
fi
mkdir -p gpu-fixtures/fixtures gpu-fixtures/models
cp -r gpu-fixtures2/fixtures/* gpu-fixtures/fixtures/
AX_SHARED_DIR=$PWD/gpu-fixtures timeout 300 gpu-bins/ax_gpu_tests --gtest_filter="${AX_FILTER:-*cuda*:*Cuda*}" > $OUT/gpu_tests_2.txt 2>&1
echo "tests rc=$? after $((SECONDS-T0)) s"
grep -E "^\[  (FAILED|PASSED|SKIPPED) |tests ran|FAILED TEST" $OUT/gpu_tests_2.txt | head -60
mkdir -p /tmp/m && cd gpu-fixtures2/models/llamacpp-vocab && xz -dk *.xz && cd - >/dev/null
V=$PWD/gpu-fixtures2/models/llamacpp-vocab
for t in F16 Q8_0 Q4_0; do gpu-bins/synthetic_model --shape qwen3-0.6b --vocab $V/ggml-vocab-qwen2.gguf --type $t --out /tmp/m/q06-$t.gguf >/dev/null & done
gpu-bins/synthetic_model --shape llama-3.1-8b --vocab $V/ggml-vocab-llama-bpe.gguf --type Q4_0 --out /tmp/m/l8b-Q4_0.gguf >/dev/null &
gpu-bins/synthetic_model --shape qwen3-30b-a3b --vocab $V/ggml-vocab-qwen2.gguf --type Q4_0 --out /tmp/m/q30a3-Q4_0.gguf >/dev/null &
wait; ls -la /tmp/m; echo "models after $((SECONDS-T0)) s"
while [ ! -f /tmp/lc/status ] && [ $((SECONDS-T0)) -lt 330 ]; do sleep 5; done
cat /tmp/lc/status 2>/dev/null || { echo "llama.cpp not built yet:"; tail -2 /tmp/lc/build.log; }
export AX_LLAMA_CPP_BIN=/tmp/lc/b/bin
PEER=""; [ -x /tmp/lc/b/bin/llama-bench ] && PEER="--peer llama.cpp"
[ -x /tmp/lc/b/bin/llama-quantize ] && /tmp/lc/b/bin/llama-quantize /tmp/m/q06-F16.gguf /tmp/m/q06-Q4_K_M.gguf Q4_K_M >/dev/null 2>&1
for m in q06-F16 q06-Q8_0 q06-Q4_0 q06-Q4_K_M l8b-Q4_0 q30a3-Q4_0; do
  [ -f /tmp/m/$m.gguf ] || continue
  [ $((SECONDS-T0)) -lt 560 ] || break
  echo "== $m"; timeout 120 gpu-bins/ax-bench bench speed --model /tmp/m/$m.gguf --backend cuda -p 512 -n 128 -r 3 $PEER 2>&1 | tee -a $OUT/bench.txt | tail -12
done
echo "end after $((SECONDS-T0)) s"
