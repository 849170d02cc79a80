#pragma once
// One layer's K/V for one sequence, as attention reads it (the reference op, every kernel tier).
#include <cstdint>

#include "util/half.h"

namespace ax::cpu {

// The head_dim values of position j, kv head g start at
//   block_table[j / block_size] * block_stride + g * head_stride + (j % block_size) * slot_stride
// of k and v (in values). The strides say the layout: KvCache keeps each kv head's blocks side by
// side ([kv head][block][slot][dim]: block_stride = block_size * head_dim, head_stride = num_blocks *
// block_stride, slot_stride = head_dim), so one head's rows are contiguous; head-major blocks
// ([block][kv head][slot][dim]) and position-major ([slot][kv head][dim]) work too. The rows are float32 (k, v)
// or IEEE half (k16, v16: an f16 cache; the other pair is null).
struct PagedKvView {
  const float* k = nullptr;
  const float* v = nullptr;
  const uint16_t* k16 = nullptr;
  const uint16_t* v16 = nullptr;
  const int32_t* block_table = nullptr;
  int64_t block_size = 0;
  int64_t block_stride = 0, head_stride = 0, slot_stride = 0;

  int64_t at(int64_t j, int64_t g) const {
    return block_table[j / block_size] * block_stride + g * head_stride + j % block_size * slot_stride;
  }
};

// n values at offset `at` of float32 rows f or half rows h (one of them null) as floats: in place,
// or widened exactly into buf.
inline const float* kv_row_f32(const float* f, const uint16_t* h, int64_t at, int64_t n, float* buf) {
  if (h == nullptr) return f + at;
  for (int64_t i = 0; i < n; ++i) buf[i] = fp16_to_f32(h[at + i]);
  return buf;
}

}  // namespace ax::cpu
