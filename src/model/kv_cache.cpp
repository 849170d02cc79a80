#include "model/kv_cache.h"

#include "util/error.h"

namespace ax {

KvCache::KvCache(const ModelConfig& cfg, int64_t num_blocks, int64_t block_size)
    : num_blocks_(num_blocks),
      block_size_(block_size),
      num_layers_(cfg.num_layers),
      kv_width_(cfg.num_kv_heads * cfg.head_dim) {
  if (num_blocks <= 0) fail("kv cache: num_blocks {} must be positive", num_blocks);
  if (block_size <= 0) fail("kv cache: block_size {} must be positive", block_size);
  if (num_layers_ <= 0 || kv_width_ <= 0)
    fail("kv cache: model config has {} layers and kv width {}; both must be positive", num_layers_, kv_width_);
  const size_t per_layer = static_cast<size_t>(num_blocks) * block_size * kv_width_;
  k_.resize(num_layers_);
  v_.resize(num_layers_);
  for (int64_t l = 0; l < num_layers_; ++l) {
    k_[l].assign(per_layer, 0.0f);
    v_[l].assign(per_layer, 0.0f);
  }
}

size_t KvCache::bytes_per_block(const ModelConfig& cfg, int64_t block_size) {
  // K and V, every layer, block_size slots of num_kv_heads * head_dim floats.
  return 2 * static_cast<size_t>(cfg.num_layers) * block_size * cfg.num_kv_heads * cfg.head_dim * sizeof(float);
}

}  // namespace ax
