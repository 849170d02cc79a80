#pragma once
// A view of a tensor's bytes inside a mapped model file (never owns them).
//
// Shape convention, everywhere in the engine: PyTorch / Hugging Face order, outermost first, so a
// linear layer's weight is shape {out_features, in_features} and each row is contiguous (for
// quantized types, each row is a whole number of blocks). GGUF lists dimensions innermost first
// (ne0 = values per row); its reader reverses them.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "format/dtype.h"

namespace ax {

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // outermost first
  const uint8_t* data = nullptr;
  size_t nbytes = 0;

  int64_t numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
  int64_t cols() const { return shape.empty() ? 1 : shape.back(); }  // values per row
  int64_t rows() const { return shape.empty() ? 1 : numel() / cols(); }
};

}  // namespace ax
