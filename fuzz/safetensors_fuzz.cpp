// libFuzzer target: the safetensors reader (header length, JSON header, dtype/shape/offset
// validation) and dequantizing the first row of each tensor. Any input must end in a parsed file
// or an ax::Error. Build and run with scripts/fuzz.sh safetensors.
//
// fuzz-sources: src/format/safetensors.cpp src/format/dtype.cpp src/format/dequant.cpp
// fuzz-sources: src/util/mapped_file.cpp
// fuzz-seeds: ../shared/fixtures/stories260K/model.safetensors ../shared/fixtures/qwen2/model.safetensors
// fuzz-seeds: ../shared/models/ax-code-15m/model-00003-of-00003.safetensors@65536
// fuzz-seeds: ../shared/fixtures/quants/reference.safetensors@65536
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "format/dequant.h"
#include "format/safetensors.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ax;
  std::unique_ptr<SafetensorsFile> f;
  try {
    f = SafetensorsFile::open_memory(data, size, "fuzz.safetensors");
  } catch (const Error&) {
    return 0;
  }
  for (const TensorView& t : f->tensors()) {
    if (t.data < data || t.data + t.nbytes > data + size) std::abort();
    if (f->tensor(t.name) != &t) std::abort();
    if (t.nbytes == 0 || !dtype_info(t.dtype).supported) continue;
    const int64_t cols = t.cols();
    if (cols > 0 && cols <= (1 << 16) && row_bytes(t.dtype, cols) <= t.nbytes) {
      std::vector<float> row(static_cast<size_t>(cols));
      dequantize_row(t.dtype, t.data, row.data(), cols);
    }
  }
  return 0;
}
