#pragma once
// Shared by the CUDA backend's .cu files: error checks and small device helpers.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/cuda_check.h"

namespace ax::cuda {

inline unsigned blocks_for(int64_t n, int per_block) { return static_cast<unsigned>((n + per_block - 1) / per_block); }

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// MXFP4 (format/dequant.h): the scale 2^(e - 128) from its bits (e < 2: the float32 subnormals), and
// the doubled E2M1 value of a code (the magnitudes 0, 1, 2, 3, 4, 6, 8, 12 are the nibbles of
// 0xC8643210; bit 3 is the sign).
__device__ __forceinline__ float mxfp4_scale(uint32_t e) {
  return __uint_as_float(e < 2 ? (0x00200000u << e) : ((e - 1) << 23));
}
__device__ __forceinline__ float mxfp4_value(uint32_t code) {
  const float mag = static_cast<float>((0xC8643210u >> (4 * (code & 7))) & 0xfu);
  return (code & 8) ? -mag : mag;
}

}  // namespace ax::cuda
