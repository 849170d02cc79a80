#!/usr/bin/env bash
# Binaries for the lent GPU hosts, which have the CUDA driver but none of this build's libraries:
# everything but glibc and the driver is linked in (static libstdc++, static CUDA runtime, fmt
# header-only). Writes gpu-bins/ (git-ignored; pass it to the device tool's `carry`):
#   ax_gpu_tests     the backend conformance, golden and engine tests (CUDA cases run, CPU ones too)
#   ax-bench         `ax-engine bench speed` (the CLI without the server)
#   synthetic_model  random-weight GGUFs of real shapes (--shape llama-3.1-8b, qwen3-0.6b, ...)
# and the test fixtures, read through AX_SHARED_DIR=$PWD/gpu-fixtures, split in two so that each
# device call stays under the 64 MiB the transfer holds with the repo: gpu-fixtures/ (the dense
# families, stories260K) and gpu-fixtures2/ (MoE, latent attention, gpt-oss; the vocabularies).
# gpu-bins/llama-cuda-src.tar.xz is llama.cpp's source without what a CUDA build of llama-bench
# does not read (built there: nothing can be downloaded on the device).
#   scripts/build-gpu-bins.sh [GENCODE]   default: sm_90a only (the lent H100/H200)
# Then two device calls, the second right after the first (the machine stays warm ~30 s):
#   run(command="bash scripts/gpu/device-tests.sh", carry=["gpu-bins", "gpu-fixtures"])
#   run(command="bash scripts/gpu/device-bench.sh", carry=["gpu-bins", "gpu-fixtures2"])
set -euo pipefail
cd "$(dirname "$0")/.."
GENCODE=${1:-"-gencode=arch=compute_90a,code=sm_90a"}
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-DFMT_HEADER_ONLY \
  -DCMAKE_CUDA_FLAGS=-DFMT_HEADER_ONLY -DAX_CUDA=ON "-DAX_CUDA_GENCODE=$GENCODE" \
  -DAX_BUILD_TESTS=OFF -DAX_BUILD_FUZZERS=OFF >/dev/null
cmake --build build-gpu --target ax_engine ax_model ax_tokenizer ax_backend ax_format ax_util
mkdir -p gpu-bins
CUDA_LIB=/usr/local/cuda/lib64
LIBS=(build-gpu/libax_engine.a build-gpu/libax_model.a build-gpu/libax_tokenizer.a build-gpu/libax_backend.a
      build-gpu/libax_format.a build-gpu/libax_util.a
      -Wl,-Bstatic -lxxhash -lpcre2-8 -licuuc -licudata -Wl,-Bdynamic
      "$CUDA_LIB/libcudart_static.a" -ldl -lrt -lpthread -static-libstdc++ -static-libgcc)
CXX=(g++ -O2 -std=c++20 -DFMT_HEADER_ONLY -Isrc -Itests -I/usr/local/cuda/include)
DEFS=(-DAX_SOURCE_DIR='"."' -DAX_SHARED_DIR='"../shared"')
"${CXX[@]}" "${DEFS[@]}" tests/backend/backend_conformance_test.cpp tests/model/golden_test.cpp \
  tests/engine/engine_model_test.cpp tests/test_support.cpp \
  -Wl,-Bstatic -lgtest -lgtest_main -Wl,-Bdynamic "${LIBS[@]}" -o gpu-bins/ax_gpu_tests &
"${CXX[@]}" -DAX_SOURCE_DIR='"."' src/cli/main.cpp scripts/gpu/bench_speed_only.cpp src/cli/bench_speed.cpp \
  src/cli/llama_cpp_peer.cpp src/cli/cache_options.cpp src/cli/backend_options.cpp src/bench/llama_cpp_build.cpp "${LIBS[@]}" -o gpu-bins/ax-bench &
"${CXX[@]}" bench/synthetic_model.cpp "${LIBS[@]}" -o gpu-bins/synthetic_model &
wait
strip gpu-bins/ax_gpu_tests gpu-bins/ax-bench gpu-bins/synthetic_model
# Fixtures: the HF fixtures and stories260K (the bundled ax-code-15m travels with the repo; its
# transformers reference does not fit the transfer and stays behind).
rm -rf gpu-fixtures gpu-fixtures2 && mkdir -p gpu-fixtures/fixtures gpu-fixtures2/fixtures gpu-fixtures2/models/llamacpp-vocab
for f in llama llama3_rope qwen2 qwen3 mistral stories260K phi3 gemma2 gemma3_text; do cp -r ../shared/fixtures/$f gpu-fixtures/fixtures/; done
for f in qwen3_moe glm4_moe gpt_oss deepseek_v3 glm4_moe_lite; do cp -r ../shared/fixtures/$f gpu-fixtures2/fixtures/; done
# stories260K's references (its weights travel with the repo: models/stories260K).
mkdir -p gpu-fixtures/models && cp -r ../shared/models/stories260K gpu-fixtures/models/ && rm -f gpu-fixtures/models/stories260K/stories260K.{bin,gguf}
# Vocabularies for synthetic_model, xz-compressed (unpacked on the host by device-bench.sh).
for v in llama-bpe qwen2; do
  xz -9 -c ../shared/models/llamacpp-vocab/ggml-vocab-$v.gguf > gpu-fixtures2/models/llamacpp-vocab/ggml-vocab-$v.gguf.xz
done
src=third_party/llama.cpp/src
if [ -d "$src" ]; then
  tar -cJf gpu-bins/llama-cuda-src.tar.xz -C "$src" --exclude=.git --exclude=./docs --exclude=./models \
    --exclude=./benches --exclude=./tools/ui --exclude=./tools/server --exclude=./gguf-py --exclude=./media \
    --exclude='./examples/*/' --exclude=./ggml/src/ggml-vulkan --exclude=./ggml/src/ggml-sycl \
    --exclude=./ggml/src/ggml-opencl --exclude=./ggml/src/ggml-metal --exclude=./ggml/src/ggml-hexagon \
    --exclude=./ggml/src/ggml-cann --exclude=./ggml/src/ggml-webgpu --exclude=./ggml/src/ggml-openvino \
    --exclude=./ggml/src/ggml-et --exclude=./ggml/src/ggml-virtgpu --exclude=./ggml/src/ggml-musa \
    --exclude=./ggml/src/ggml-zdnn --exclude='./tests/*.gguf' .
fi
du -sh gpu-bins gpu-fixtures gpu-fixtures2
