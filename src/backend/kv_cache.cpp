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

int64_t KvShape::values_per_token() const {
  if (layer_head_dims.empty()) return num_layers * values_per_token_layer();
  int64_t n = 0;
  for (int64_t hd : layer_head_dims) n += num_kv_heads * hd * (v_in_k > 0 ? 1 : 2);
  return n;
}

KvCache::KvCache(Backend& be, const KvShape& shape, int64_t num_blocks, int64_t block_size, KvType type,
                 int64_t state_slots)
    : be_(be), shape_(shape), num_blocks_(num_blocks), block_size_(block_size), type_(type) {
  if (num_blocks <= 0) fail("kv cache: num_blocks {} must be positive", num_blocks);
  if (block_size <= 0) fail("kv cache: block_size {} must be positive", block_size);
  if (shape.num_layers <= 0 || shape.num_kv_heads <= 0 || shape.head_dim <= 0)
    fail("kv cache: model config has {} layers, {} kv heads of {} values; all must be positive", shape.num_layers,
         shape.num_kv_heads, shape.head_dim);
  if (shape.v_in_k < 0 || shape.v_in_k > shape.head_dim)
    fail("kv cache: V as the first {} values of K rows of {} values is not a prefix", shape.v_in_k, shape.head_dim);
  if (!shape.layer_head_dims.empty()) {
    if (static_cast<int64_t>(shape.layer_head_dims.size()) != shape.num_layers)
      fail("kv cache: {} per-layer head widths for {} layers", shape.layer_head_dims.size(), shape.num_layers);
    for (int64_t hd : shape.layer_head_dims)
      if (hd <= 0 || hd < shape.v_in_k) fail("kv cache: a layer's heads of {} values are not valid", hd);
  }
  layer_start_.assign(1, 0);
  for (int64_t l = 0; l < shape.num_layers; ++l)
    layer_start_.push_back(layer_start_.back() + pools_per_layer() * static_cast<size_t>(num_blocks) * block_size *
                                                     kv_width(l));
  pool_ = be.alloc(layer_start_.back() * kv_type_bytes(type));
  if (shape.state_floats < 0 || state_slots < 0)
    fail("kv cache: {} recurrent-state slots of {} values is not valid", state_slots, shape.state_floats);
  if (shape.state_floats > 0) {
    state_slots_ = state_slots;
    states_ = be.alloc(std::max<size_t>(1, static_cast<size_t>(state_slots) * shape.state_floats * sizeof(float)));
    state_len_.assign(static_cast<size_t>(state_slots), 0);
    saved_.resize(static_cast<size_t>(state_slots));
    saved_len_.assign(static_cast<size_t>(state_slots), -1);
  }
}

void KvCache::check_state_slot(int64_t slot) const {
  if (slot < 0 || slot >= state_slots_)
    fail("kv cache: recurrent-state slot {} is outside the cache's {} slots", slot, state_slots_);
}

float* KvCache::state_data(int64_t slot) const {
  check_state_slot(slot);
  return states_.as<float>() + slot * shape_.state_floats;
}

int64_t KvCache::state_length(int64_t slot) const {
  check_state_slot(slot);
  return state_len_[slot];
}

void KvCache::set_state_length(int64_t slot, int64_t n) {
  check_state_slot(slot);
  state_len_[slot] = n;
}

void KvCache::save_state(int64_t slot) {
  check_state_slot(slot);
  saved_[slot].resize(static_cast<size_t>(shape_.state_floats));
  be_.copy_to_host(saved_[slot].data(), state_data(slot), saved_[slot].size() * sizeof(float));
  saved_len_[slot] = state_len_[slot];
}

void KvCache::restore_state(int64_t slot) {
  check_state_slot(slot);
  if (saved_len_[slot] < 0) fail("kv cache: recurrent-state slot {} has no snapshot to restore", slot);
  be_.copy_to_device(state_data(slot), saved_[slot].data(), saved_[slot].size() * sizeof(float));
  state_len_[slot] = saved_len_[slot];
}

int64_t KvCache::head_dim(int64_t layer) const {
  if (layer < 0 || layer >= shape_.num_layers)
    fail("kv cache: layer {} is outside the cache's {} layers", layer, shape_.num_layers);
  return shape_.layer_head_dim(layer);
}

void* KvCache::base(int64_t layer, bool v) const {
  const size_t pool = static_cast<size_t>(num_blocks_) * block_size_ * kv_width(layer);  // checks the layer
  return pool_.as<uint8_t>() + (layer_start_[layer] + (v ? pool : 0)) * kv_type_bytes(type_);
}

void KvCache::check(int64_t layer, int64_t block, int64_t slot) const {
  if (layer < 0 || layer >= shape_.num_layers || block < 0 || block >= num_blocks_ || slot < 0 || slot >= block_size_)
    fail("kv cache: (layer {}, block {}, slot {}) is outside {} layers x {} blocks x {} slots", layer, block, slot,
         shape_.num_layers, num_blocks_, block_size_);
}

void KvCache::store(int64_t layer, int64_t block, int64_t slot, const float* k, const float* v) {
  check(layer, block, slot);
  const int64_t hd = head_dim(layer);
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
  const int64_t hd = head_dim(layer), vd = v_in_k() ? shape_.v_head_dim() : hd;
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
  return static_cast<size_t>(block_size) * shape.values_per_token() * kv_type_bytes(type);
}

}  // namespace ax
