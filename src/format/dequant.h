#pragma once
// Scalar reference dequantizers: the oracle for every fast kernel. One row (or any whole number of
// blocks) of type t -> float32. n must be a multiple of the type's block size.
// Supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS.
// Results are bit-exact with GGML's and gguf-py's dequantizers.
#include <cstdint>
#include <vector>

#include "format/dtype.h"
#include "format/tensor.h"

namespace ax {

void dequantize_row(DType t, const uint8_t* src, float* dst, int64_t n);

// A whole tensor -> float32, row-major in the tensor's shape (tests, tools, slow paths).
std::vector<float> dequantize(const TensorView& t);

}  // namespace ax
