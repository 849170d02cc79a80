#include "backend/kv_cache.h"

#include <algorithm>
#include <vector>

#include "util/error.h"
#include "util/half.h"

namespace ax {

std::string_view kv_type_name(KvType t) { return t == KvType::F16 ? "f16" : "f32"; }

std::optional<KvType> kv_type_from_name(std::string_view name) {
  if (name == "f32") return KvType::F32;
  if (name == "f16") return KvType::F16;
  return std::nullopt;
}

size_t kv_type_bytes(KvType t) { return t == KvType::F16 ? sizeof(uint16_t) : sizeof(float); }

KvCache::KvCache(Backend& be, const KvShape& shape, int64_t num_blocks, int64_t block_size, KvType type)
    : be_(be), shape_(shape), num_blocks_(num_blocks), block_size_(block_size), type_(type) {
  if (num_blocks <= 0) fail("kv cache: num_blocks {} must be positive", num_blocks);
  if (block_size <= 0) fail("kv cache: block_size {} must be positive", block_size);
  if (shape.num_layers <= 0 || shape.num_kv_heads <= 0 || shape.head_dim <= 0)
    fail("kv cache: model config has {} layers, {} kv heads of {} values; all must be positive", shape.num_layers,
         shape.num_kv_heads, shape.head_dim);
  if (shape.v_in_k < 0 || shape.v_in_k > shape.head_dim)
    fail("kv cache: V as the first {} values of K rows of {} values is not a prefix", shape.v_in_k, shape.head_dim);
  per_layer_ = static_cast<size_t>(num_blocks) * block_size * kv_width();
  pool_ = be.alloc(pools_per_layer() * shape.num_layers * per_layer_ * kv_type_bytes(type));
}

void* KvCache::base(int64_t layer, bool v) const {
  if (layer < 0 || layer >= shape_.num_layers)
    fail("kv cache: layer {} is outside the cache's {} layers", layer, shape_.num_layers);
  return pool_.as<uint8_t>() + (pools_per_layer() * layer + (v ? 1 : 0)) * per_layer_ * kv_type_bytes(type_);
}

void KvCache::check(int64_t layer, int64_t block, int64_t slot) const {
  if (layer < 0 || layer >= shape_.num_layers || block < 0 || block >= num_blocks_ || slot < 0 || slot >= block_size_)
    fail("kv cache: (layer {}, block {}, slot {}) is outside {} layers x {} blocks x {} slots", layer, block, slot,
         shape_.num_layers, num_blocks_, block_size_);
}

void KvCache::store(int64_t layer, int64_t block, int64_t slot, const float* k, const float* v) {
  check(layer, block, slot);
  const int64_t hd = shape_.head_dim;
  const size_t eb = kv_type_bytes(type_);
  std::vector<uint16_t> half(hd);
  for (int64_t h = 0; h < shape_.num_kv_heads; ++h) {
    const size_t at = ((h * num_blocks_ + block) * block_size_ + slot) * hd * eb;
    for (int which = 0; which < pools_per_layer(); ++which) {
      const float* src = (which == 0 ? k : v) + h * hd;
      uint8_t* dst = static_cast<uint8_t*>(base(layer, which == 1)) + at;
      if (type_ == KvType::F16) {
        for (int64_t i = 0; i < hd; ++i) half[i] = f32_to_fp16(src[i]);
        be_.copy_to_device(dst, half.data(), hd * eb);
      } else {
        be_.copy_to_device(dst, src, hd * eb);
      }
    }
  }
}

void KvCache::load(int64_t layer, int64_t block, int64_t slot, float* k, float* v) const {
  check(layer, block, slot);
  const int64_t hd = shape_.head_dim, vd = shape_.v_head_dim();
  const size_t eb = kv_type_bytes(type_);
  std::vector<uint16_t> half(hd);
  for (int64_t h = 0; h < shape_.num_kv_heads; ++h) {
    const size_t at = ((h * num_blocks_ + block) * block_size_ + slot) * hd * eb;
    for (int which = 0; which < pools_per_layer(); ++which) {
      float* dst = (which == 0 ? k : v) + h * hd;
      const uint8_t* src = static_cast<const uint8_t*>(base(layer, which == 1)) + at;
      if (type_ == KvType::F16) {
        be_.copy_to_host(half.data(), src, hd * eb);
        for (int64_t i = 0; i < hd; ++i) dst[i] = fp16_to_f32(half[i]);
      } else {
        be_.copy_to_host(dst, src, hd * eb);
      }
    }
    if (v_in_k()) std::copy_n(k + h * hd, vd, v + h * vd);  // V: the prefix of the K row
  }
}

size_t KvCache::bytes_per_block(const KvShape& shape, int64_t block_size, KvType type) {
  // K and V (K alone with v_in_k), every layer, block_size slots of num_kv_heads * head_dim values.
  return static_cast<size_t>(shape.num_layers) * block_size * shape.values_per_token_layer() * kv_type_bytes(type);
}

}  // namespace ax
