#pragma once
// The paged KV cache: one preallocated pool of fixed-size blocks per model. A sequence owns a block
// table (block ids in position order); position p of a sequence lives in block
// table[p / block_size], slot p % block_size. Attention reads K/V through the table, so sequences
// can share prefix blocks and rollback is just a shorter length (O(1)).
//
// Layout per layer, float32 (the reference layout; the GPU backend uses the same block geometry):
//   k[layer]: [num_blocks, block_size, num_kv_heads, head_dim]
//   v[layer]: [num_blocks, block_size, num_kv_heads, head_dim]
#include <cstddef>
#include <cstdint>
#include <vector>

#include "model/config.h"

namespace ax {

class KvCache {
 public:
  KvCache(const ModelConfig& cfg, int64_t num_blocks, int64_t block_size = 16);

  int64_t num_blocks() const { return num_blocks_; }
  int64_t block_size() const { return block_size_; }
  int64_t num_layers() const { return num_layers_; }
  int64_t kv_width() const { return kv_width_; }  // num_kv_heads * head_dim

  // -> [num_kv_heads, head_dim] for one (layer, block, slot)
  float* k(int64_t layer, int64_t block, int64_t slot) { return k_[layer].data() + offset(block, slot); }
  float* v(int64_t layer, int64_t block, int64_t slot) { return v_[layer].data() + offset(block, slot); }
  const float* k(int64_t layer, int64_t block, int64_t slot) const { return k_[layer].data() + offset(block, slot); }
  const float* v(int64_t layer, int64_t block, int64_t slot) const { return v_[layer].data() + offset(block, slot); }

  // Bytes one block costs across all layers (K and V): sizes the pool from a memory budget.
  static size_t bytes_per_block(const ModelConfig& cfg, int64_t block_size);

 private:
  size_t offset(int64_t block, int64_t slot) const {
    return (static_cast<size_t>(block) * block_size_ + slot) * kv_width_;
  }
  int64_t num_blocks_, block_size_, num_layers_, kv_width_;
  std::vector<std::vector<float>> k_, v_;
};

}  // namespace ax
