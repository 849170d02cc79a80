#pragma once
// The paged KV cache: one preallocated pool of fixed-size blocks per model. A sequence owns a block
// table (block ids in position order); position p of a sequence lives in block
// table[p / block_size], slot p % block_size. Attention reads K/V through the table, so sequences
// can share prefix blocks and rollback is just a shorter length (O(1)).
//
// Layout per layer, in the cache's element type (float32, or IEEE half for an f16 cache):
//   k[layer]: [num_kv_heads, num_blocks, block_size, head_dim]
//   v[layer]: [num_kv_heads, num_blocks, block_size, head_dim]
// Each kv head's blocks lie side by side: attention reads one kv head's rows at a time, as one
// contiguous run per block, and a sequence's blocks, mostly handed out in order, join into one long
// run that the hardware prefetchers follow. (Head-major inside each block instead put the runs of a
// head 32 KiB apart; on huge pages those all fell into the same few L2 sets: decode after 4096
// tokens 36-41 -> 41-47 tok/s with this layout, Qwen3-0.6B, 2 threads.)
// float32 is the reference (what the golden tests hold the model to); f16 halves the memory and
// the bytes attention reads per token, at the cost of rounding K and V to 11 significant bits
// (what llama.cpp's default cache does too).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "backend/cpu/paged_kv.h"
#include "model/config.h"
#include "util/huge_buffer.h"

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
    return ((static_cast<size_t>(head) * num_blocks_ + block) * block_size_ + slot) * head_dim_;
  }
  void check(int64_t layer, int64_t block, int64_t slot) const;
  // Layer `layer`'s K (v = false) or V values, in the cache's element type.
  template <typename T>
  T* rows(int64_t layer, bool v) const {
    return reinterpret_cast<T*>(pool_->data()) + (2 * layer + (v ? 1 : 0)) * per_layer_;
  }
  int64_t num_blocks_, block_size_, num_layers_, num_kv_heads_, head_dim_, kv_width_;
  KvType type_;
  size_t per_layer_;  // values of one layer's K (or V)
  // [layer][K, V][per_layer_] values, on huge pages: decode at long context reads hundreds of MB of
  // it per token in block-sized runs, one TLB miss per 4 KiB page otherwise. Zero-filled, every
  // page committed at construction.
  std::unique_ptr<HugeBuffer> pool_;
};

}  // namespace ax
