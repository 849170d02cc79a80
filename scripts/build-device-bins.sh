#!/usr/bin/env bash
# Static binaries for a machine that has none of the build's libraries (the lent GPU hosts), in
# build-dev/ (git-ignored; pass it to the device tool's `carry`): the packed-kernel and attention tests, the kernel
# benchmark, the synthetic-model writer, `ax-bench` (the CLI's `bench` command without the server),
# the Qwen2/Qwen3 vocabulary and a trimmed tarball of the llama.cpp source to build the peer there:
#   mkdir -p llama && tar xzf llama-src.tgz -C llama && cmake -S llama -B llama/build -G Ninja \
#     -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_SERVER=OFF \
#     -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF && \
#   cmake --build llama/build --target llama-bench llama-quantize llama-batched-bench
# then AX_LLAMA_CPP_BIN=$PWD/llama/build/bin ./ax-bench bench speed ... --peer llama.cpp
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-static -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-DFMT_HEADER_ONLY \
  -DAX_BUILD_TESTS=OFF -DAX_BUILD_FUZZERS=OFF >/dev/null
cmake --build build-static --target ax_core
mkdir -p build-dev
LIBS=(build-static/libax_core.a -licuuc -licudata -lpcre2-8 -lxxhash -lpthread -ldl -lm)
CXX=(g++ -O2 -std=c++20 -DFMT_HEADER_ONLY -Isrc -Itests -static)
"${CXX[@]}" tests/backend/kernels_packed_test.cpp "${LIBS[@]}" -lgtest -lgtest_main -o build-dev/packed_test &
"${CXX[@]}" tests/backend/kernels_attention_test.cpp "${LIBS[@]}" -lgtest -lgtest_main -o build-dev/attention_test &
"${CXX[@]}" bench/kernels_bench.cpp "${LIBS[@]}" -o build-dev/kernels_bench &
"${CXX[@]}" bench/synthetic_model.cpp "${LIBS[@]}" -o build-dev/synthetic_model &
"${CXX[@]}" -DAX_SOURCE_DIR='"."' src/cli/main.cpp src/cli/cmd_bench.cpp src/cli/llama_cpp_peer.cpp src/cli/cache_options.cpp \
  "${LIBS[@]}" -o build-dev/ax-bench &
wait
strip build-dev/packed_test build-dev/attention_test build-dev/kernels_bench build-dev/synthetic_model build-dev/ax-bench
cp ../shared/models/llamacpp-vocab/ggml-vocab-qwen2.gguf build-dev/
src=third_party/llama.cpp/src
if [ -d "$src" ]; then
  tar czf build-dev/llama-src.tgz -C "$src" --exclude=./docs --exclude=./models --exclude=./media \
    --exclude=./gguf-py --exclude=./tests --exclude=./benches --exclude=./examples --exclude=./pocs \
    --exclude='./tools/server/public*' --exclude=./tools/server/webui --exclude=./.git \
    --exclude=./ggml/src/ggml-cuda --exclude=./ggml/src/ggml-vulkan --exclude=./ggml/src/ggml-sycl \
    --exclude=./ggml/src/ggml-metal --exclude=./ggml/src/ggml-opencl --exclude=./ggml/src/ggml-cann \
    --exclude=./ggml/src/ggml-webgpu --exclude=./ggml/src/ggml-hexagon --exclude=./ggml/src/ggml-musa .
fi
du -sh build-dev
