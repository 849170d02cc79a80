#pragma once
// Runs llama.cpp's own benchmark tools (built from the npm bundle by scripts/build-llama-cpp.sh)
// on a model file, for side-by-side speed rows.
#include <cstdint>
#include <string>

namespace ax::cli {

struct PeerResult {
  double prefill_tps = 0;  // pp: prompt tokens/s
  double decode_tps = 0;   // tg: generated tokens/s (aggregate over the batch)
};

// Where the llama.cpp binaries are: $AX_LLAMA_CPP_BIN, else third_party/llama.cpp/build-cpu/bin
// (build-cuda/bin with gpu).
std::string llama_cpp_bin_dir(bool gpu = false);
// llama-bench -p P -n G -d D -t T -r 1 (one repetition: the caller alternates engines); both tests
// run after D tokens of context. gpu: every layer on the GPU with flash attention (-ngl 99 -fa 1).
PeerResult run_llama_bench(const std::string& model, int64_t prompt, int64_t gen, int64_t depth, int threads,
                           bool gpu = false);
// llama-batched-bench -npp P -ntg G -npl B: aggregate generation speed over B sequences, each
// generating after its own prompt of P tokens.
PeerResult run_llama_batched_bench(const std::string& model, int64_t prompt, int64_t gen, int64_t batch, int threads,
                                   bool gpu = false);

}  // namespace ax::cli
