#pragma once
// The paged KV cache: one preallocated pool of fixed-size blocks per model. A sequence owns a block
// table (block ids in position order); position p of a sequence lives in block
// table[p / block_size], slot p % block_size. Attention reads K/V through the table, so sequences
// can share prefix blocks and rollback is just a shorter length (O(1)).
//
// Layout per layer, in the cache's element type (float32, or IEEE half for an f16 cache):
//   k[layer]: [num_blocks, num_kv_heads, block_size, head_dim]
//   v[layer]: [num_blocks, num_kv_heads, block_size, head_dim]
// Head-major inside a block: attention reads one kv head's rows at a time, and so reads them as
// one contiguous run per block (block_size * head_dim values) instead of one row every
// num_kv_heads * head_dim values, which the hardware prefetchers do not follow.
// float32 is the reference (what the golden tests hold the model to); f16 halves the memory and
// the bytes attention reads per token, at the cost of rounding K and V to 11 significant bits
// (what llama.cpp's default cache does too).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "backend/cpu/paged_kv.h"
#include "model/config.h"

namespace ax {

enum class KvType { F32, F16 };
std::string_view kv_type_name(KvType t);                   // "f32", "f16"
std::optional<KvType> kv_type_from_name(std::string_view name);

class KvCache {
 public:
  KvCache(const ModelConfig& cfg, int64_t num_blocks, int64_t block_size = 16, KvType type = KvType::F32);

  int64_t num_blocks() const { return num_blocks_; }
  int64_t block_size() const { return block_size_; }
  int64_t num_layers() const { return num_layers_; }
  int64_t kv_width() const { return kv_width_; }  // num_kv_heads * head_dim
  KvType type() const { return type_; }

  // Writes K and V ([num_kv_heads, head_dim] floats each) into one (layer, block, slot), rounded to
  // the cache's type (round to nearest even).
  void store(int64_t layer, int64_t block, int64_t slot, const float* k, const float* v);
  // Reads one (layer, block, slot) back as floats (exact: every f16 value is a float).
  void load(int64_t layer, int64_t block, int64_t slot, float* k, float* v) const;
  // One layer's rows for cpu::attention through a sequence's block table.
  cpu::PagedKvView view(int64_t layer, const int32_t* block_table) const;

  // Bytes one block costs across all layers (K and V): sizes the pool from a memory budget.
  static size_t bytes_per_block(const ModelConfig& cfg, int64_t block_size, KvType type = KvType::F32);

 private:
  // Where kv head `head` of (block, slot) starts in a layer.
  size_t offset(int64_t block, int64_t head, int64_t slot) const {
    return ((static_cast<size_t>(block) * num_kv_heads_ + head) * block_size_ + slot) * head_dim_;
  }
  void check(int64_t layer, int64_t block, int64_t slot) const;
  int64_t num_blocks_, block_size_, num_layers_, num_kv_heads_, head_dim_, kv_width_;
  KvType type_;
  std::vector<std::vector<float>> k_, v_;        // float32 cache
  std::vector<std::vector<uint16_t>> k16_, v16_;  // f16 cache
};

}  // namespace ax
