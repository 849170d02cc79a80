#pragma once
// Reference quantizers (float32 -> on-disk GGUF blocks), the inverse of dequant.h, for writing
// test models and for quantizing activations in tests. Types: F32, F16, BF16, Q8_0, Q4_0, MXFP4.
// Q8_0 and Q4_0 follow GGML's reference rounding, so quantizing the dequantized values of a
// GGML-quantized row gives back the same bytes; MXFP4 follows gguf-py's rule (quantize.cpp).
#include <cstdint>
#include <vector>

#include "format/dtype.h"

namespace ax {

// n values -> row_bytes(t, n) bytes at dst; n must be a multiple of the block size.
void quantize_row(DType t, const float* src, uint8_t* dst, int64_t n);

// rows x cols values, row-major -> rows * row_bytes(t, cols) bytes.
std::vector<uint8_t> quantize(DType t, const float* src, int64_t rows, int64_t cols);

bool can_quantize(DType t);

}  // namespace ax
