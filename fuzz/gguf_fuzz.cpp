// libFuzzer target: the GGUF reader, and what the engine does right after opening a file (typed
// metadata getters, model config derivation, dequantizing tensor rows). Any input must end in a
// parsed file or an ax::Error; a crash, sanitizer report, uncaught exception or huge allocation
// is a bug. Build and run with scripts/fuzz.sh gguf.
//
// fuzz-sources: src/format/gguf.cpp src/model/gguf_config.cpp src/format/dtype.cpp
// fuzz-sources: src/format/dequant.cpp src/util/mapped_file.cpp
// The config hooks of every architecture, and what their forward passes link to:
// fuzz-sources: src/model/architecture.cpp src/model/arch_*.cpp src/model/config.cpp
// fuzz-sources: src/model/hf_fields.cpp src/model/decoder.cpp src/model/blocks.cpp src/model/rope.cpp
// fuzz-sources: src/model/model.cpp src/model/model_source.cpp src/backend/backend.cpp
// fuzz-sources: src/backend/step_input.cpp src/backend/moe_routing.cpp src/format/safetensors.cpp
// fuzz-sources: src/model/hf_config.cpp src/model/mla.cpp src/model/grouped_moe.cpp
// Architecture::to_gguf (GGUF export) links the writer and the quantizers:
// fuzz-sources: src/model/gguf_export.cpp src/format/gguf_writer.cpp src/format/quantize.cpp
// fuzz-sources: src/model/gated_delta.cpp src/backend/kv_cache.cpp src/model/per_layer_input.cpp
// fuzz-seeds: ../shared/models/stories260K/stories260K.gguf ../shared/fixtures/quants/quants.gguf
// fuzz-seeds: ../shared/fixtures/quants-mxfp4/quants.gguf
// fuzz-seeds: ../shared/models/llamacpp-vocab/ggml-vocab-llama-spm.gguf@65536
// fuzz-seeds: ../shared/models/llamacpp-vocab/ggml-vocab-qwen2.gguf@65536
// fuzz-seeds: ../shared/models/llamacpp-vocab/ggml-vocab-phi-3.gguf@65536
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "format/dequant.h"
#include "format/gguf.h"
#include "model/gguf_config.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ax;
  std::unique_ptr<GgufFile> f;
  try {
    f = GgufFile::open_memory(data, size, "fuzz.gguf");
  } catch (const Error&) {
    return 0;
  }
  // Every tensor lies inside the input.
  for (const TensorView& t : f->tensors()) {
    if (t.data < data || t.data + t.nbytes > data + size) std::abort();
    if (t.nbytes == 0 || !dtype_info(t.dtype).supported) continue;
    try {
      // First row only (bounded work): read every byte of it.
      const int64_t cols = t.cols();
      if (cols > 0 && cols <= (1 << 16) && row_bytes(t.dtype, cols) <= t.nbytes) {
        std::vector<float> row(static_cast<size_t>(cols));
        dequantize_row(t.dtype, t.data, row.data(), cols);
      }
    } catch (const Error&) {
    }
  }
  try {
    (void)f->get_string_or("general.architecture", "");
    (void)f->get_int_or("general.alignment", 32);
    (void)f->get_float_or("llama.rope.freq_base", 0);
  } catch (const Error&) {
  }
  try {
    (void)gguf_model_config(*f);
  } catch (const Error&) {
  }
  return 0;
}
