#pragma once
// Scalar reference dequantizers: the oracle for every fast kernel. One row (or any whole number of
// blocks) of type t -> float32. n must be a multiple of the type's block size.
// Supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS,
// MXFP4.
// Results are bit-exact with GGML's and gguf-py's dequantizers.
#include <bit>
#include <cstdint>
#include <vector>

#include "format/dtype.h"
#include "format/tensor.h"

namespace ax {

void dequantize_row(DType t, const uint8_t* src, float* dst, int64_t n);

// MXFP4 (OCP microscaling FP4, GGUF type 39; gpt-oss's expert weights): blocks of 32 values in 17
// bytes, one E8M0 exponent byte e, then 16 bytes of 4-bit E2M1 codes (value j in the low nibble of
// byte j, value j + 16 in the high nibble). value = kMxfp4Values[code] * mxfp4_scale(e): the table
// holds the E2M1 values doubled (small integers), so the scale is half of the format's 2^(e - 127).
inline constexpr int8_t kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
// 2^(e - 128) for every e, built from its bits as GGML does (e < 2 gives the float32 subnormals
// 2^-128 and 2^-127). Inline: the CPU kernels decode scales with it.
inline float mxfp4_scale(uint8_t e) {
  return std::bit_cast<float>(e < 2 ? (uint32_t{0x00200000} << e) : (static_cast<uint32_t>(e - 1) << 23));
}

// A whole tensor -> float32, row-major in the tensor's shape (tests, tools, slow paths).
std::vector<float> dequantize(const TensorView& t);

}  // namespace ax
