#include "model/kv_cache.h"

#include <algorithm>
#include <cstring>

#include "backend/cpu/ops.h"
#include "util/error.h"
#include "util/half.h"

namespace ax {

std::string_view kv_type_name(KvType t) { return t == KvType::F16 ? "f16" : "f32"; }

std::optional<KvType> kv_type_from_name(std::string_view name) {
  if (name == "f32") return KvType::F32;
  if (name == "f16") return KvType::F16;
  return std::nullopt;
}

KvCache::KvCache(const ModelConfig& cfg, int64_t num_blocks, int64_t block_size, KvType type)
    : num_blocks_(num_blocks),
      block_size_(block_size),
      num_layers_(cfg.num_layers),
      num_kv_heads_(cfg.num_kv_heads),
      head_dim_(cfg.head_dim),
      kv_width_(cfg.num_kv_heads * cfg.head_dim),
      type_(type) {
  if (num_blocks <= 0) fail("kv cache: num_blocks {} must be positive", num_blocks);
  if (block_size <= 0) fail("kv cache: block_size {} must be positive", block_size);
  if (num_layers_ <= 0 || num_kv_heads_ <= 0 || head_dim_ <= 0)
    fail("kv cache: model config has {} layers, {} kv heads of {} values; all must be positive", num_layers_,
         num_kv_heads_, head_dim_);
  per_layer_ = static_cast<size_t>(num_blocks) * block_size * kv_width_;
  const size_t elem = type_ == KvType::F16 ? sizeof(uint16_t) : sizeof(float);
  const size_t bytes = 2 * num_layers_ * per_layer_ * elem;
  pool_ = std::make_unique<HugeBuffer>(bytes);
  // Touched now, not on first use: a page fault zeroes a whole 2 MiB page, and thousands of them
  // inside the first prefill cost it 10-25 % (batched pp128 x 16: 1110 -> 820-880 tok/s).
  std::memset(pool_->data(), 0, bytes);
}

void KvCache::check(int64_t layer, int64_t block, int64_t slot) const {
  if (layer < 0 || layer >= num_layers_ || block < 0 || block >= num_blocks_ || slot < 0 || slot >= block_size_)
    fail("kv cache: (layer {}, block {}, slot {}) is outside {} layers x {} blocks x {} slots", layer, block, slot,
         num_layers_, num_blocks_, block_size_);
}

void KvCache::store(int64_t layer, int64_t block, int64_t slot, const float* k, const float* v) {
  check(layer, block, slot);
  for (int64_t h = 0; h < num_kv_heads_; ++h) {
    const size_t at = offset(block, h, slot);
    if (type_ == KvType::F16) {
      cpu::to_f16(k + h * head_dim_, rows<uint16_t>(layer, false) + at, head_dim_);
      cpu::to_f16(v + h * head_dim_, rows<uint16_t>(layer, true) + at, head_dim_);
    } else {
      std::copy_n(k + h * head_dim_, head_dim_, rows<float>(layer, false) + at);
      std::copy_n(v + h * head_dim_, head_dim_, rows<float>(layer, true) + at);
    }
  }
}

void KvCache::load(int64_t layer, int64_t block, int64_t slot, float* k, float* v) const {
  check(layer, block, slot);
  for (int64_t h = 0; h < num_kv_heads_; ++h) {
    const size_t at = offset(block, h, slot);
    if (type_ == KvType::F16) {
      const uint16_t* kh = rows<uint16_t>(layer, false) + at;
      const uint16_t* vh = rows<uint16_t>(layer, true) + at;
      for (int64_t i = 0; i < head_dim_; ++i) {
        k[h * head_dim_ + i] = fp16_to_f32(kh[i]);
        v[h * head_dim_ + i] = fp16_to_f32(vh[i]);
      }
    } else {
      std::copy_n(rows<float>(layer, false) + at, head_dim_, k + h * head_dim_);
      std::copy_n(rows<float>(layer, true) + at, head_dim_, v + h * head_dim_);
    }
  }
}

cpu::PagedKvView KvCache::view(int64_t layer, const int32_t* block_table) const {
  check(layer, 0, 0);
  cpu::PagedKvView p;
  if (type_ == KvType::F16) {
    p.k16 = rows<uint16_t>(layer, false);
    p.v16 = rows<uint16_t>(layer, true);
  } else {
    p.k = rows<float>(layer, false);
    p.v = rows<float>(layer, true);
  }
  p.block_table = block_table;
  p.block_size = block_size_;
  p.block_stride = block_size_ * head_dim_;
  p.head_stride = num_blocks_ * block_size_ * head_dim_;
  p.slot_stride = head_dim_;
  return p;
}

size_t KvCache::bytes_per_block(const ModelConfig& cfg, int64_t block_size, KvType type) {
  // K and V, every layer, block_size slots of num_kv_heads * head_dim values.
  const size_t elem = type == KvType::F16 ? sizeof(uint16_t) : sizeof(float);
  return 2 * static_cast<size_t>(cfg.num_layers) * block_size * cfg.num_kv_heads * cfg.head_dim * elem;
}

}  // namespace ax
