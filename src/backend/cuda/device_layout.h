#pragma once
// How the CUDA backend lays weight matrices out in device memory (host code: the repacking runs on
// the CPU at load, and tests check it without a GPU).
//
// Every row is padded to Kp = a multiple of 256 values (zeros), so the kernels see whole 256-value
// chunks; quantized types stay quantized, float types become IEEE half (the matrix kernels multiply
// in f16 on tensor cores, so an f32 or bf16 weight would be rounded to f16 there anyway). Rows are
// 16-byte aligned. Per row, for K = Kp values:
//   F16   h[Kp]
//   Q8_0  qs int8[Kp], then d f16[Kp/32] (padded to 16 bytes)           value = d * q
//   Q4_0  qs u8[Kp/2] (per 32 values: byte i = value i low nibble, value i+16 high nibble), then
//         d f16[Kp/32] (padded to 16 bytes)                               value = d * (q - 8)
//   MXFP4 codes u8[Kp/2] (nibbles as Q4_0), then e u8[Kp/32] (padded to 16 bytes)
//                                                     value = kMxfp4Values[code] * 2^(e - 128)
//   Q4_K  the stored 144-byte blocks (GGUF layout)
//   Q5_K  the stored 176-byte blocks (GGUF layout)
//   Q6_K  the stored blocks without their d (ql[128], qh[64], scales[16]: 208 bytes), then d
//         f16[Kp/256] (padded to 16 bytes)
// Other GGUF types (Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, IQ4_XS) are dequantized to F16 at load.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "format/tensor.h"

namespace ax::cuda {

enum class DevType : int { F16 = 0, Q8_0 = 1, Q4_0 = 2, Q4_K = 3, Q5_K = 4, Q6_K = 5, MXFP4 = 6 };
const char* dev_type_name(DevType t);

struct DeviceLayout {
  DevType type = DevType::F16;
  int64_t rows = 0;
  int64_t cols = 0;         // K as stored
  int64_t cols_padded = 0;  // Kp, a multiple of 256
  size_t row_stride = 0;    // bytes
  size_t bytes() const { return row_stride * static_cast<size_t>(rows); }
};

// The device type a stored dtype takes, and the layout of a {rows, cols} matrix of it.
DevType device_type_for(DType t);
DeviceLayout device_layout(DType stored, int64_t rows, int64_t cols);

// w's bytes in its device layout (layout.bytes() of them). Throws ax::Error for a float weight
// beyond f16's range.
std::vector<uint8_t> repack_for_device(const TensorView& w, const DeviceLayout& layout);

// One row of a device-layout matrix back to float32 (values [0, cols)): the host oracle for the
// layout (tests).
void dequantize_device_row(const DeviceLayout& layout, const uint8_t* row, float* out);

}  // namespace ax::cuda
