#pragma once
// Scalar reference dequantizers: the oracle for every fast kernel. One row (or any whole number of
// blocks) of type t -> float32. n must be a multiple of the type's block size.
#include <cstdint>

#include "format/dtype.h"

namespace ax {

void dequantize_row(DType t, const uint8_t* src, float* dst, int64_t n);

}  // namespace ax
