#pragma once
// The paged KV cache: one preallocated pool of fixed-size blocks in a backend's memory. A sequence
// owns a block table (block ids in position order); position p of a sequence lives in block
// table[p / block_size], slot p % block_size. Attention reads K/V through the table, so sequences
// can share prefix blocks and rollback is just a shorter length (O(1)). The pool knows only
// geometry; who owns which block is the engine's business.
//
// Layout per layer, in the cache's element type (float32, or IEEE half for an f16 cache):
//   k[layer]: [num_kv_heads, num_blocks, block_size, head_dim(layer)]
//   v[layer]: [num_kv_heads, num_blocks, block_size, head_dim(layer)]
// head_dim(layer) is the model's head_dim, except in models whose layer kinds have heads of
// different widths (Gemma 4: 256 on sliding layers, 512 on full ones; KvShape::layer_head_dims);
// each layer's pools are then as wide as its own heads.
// Each kv head's blocks lie side by side: attention reads one kv head's rows at a time, as one
// contiguous run per block, and a sequence's blocks, mostly handed out in order, join into one long
// run that the hardware prefetchers follow. (Head-major inside each block instead put the runs of a
// head 32 KiB apart; on huge pages those all fell into the same few L2 sets.)
// float32 is the reference (what the golden tests hold the model to); f16 halves the memory and
// the bytes attention reads per token, at the cost of rounding K and V to 11 significant bits
// (what llama.cpp's default cache does too).
//
// Multi-head latent attention (DeepSeek-V3, GLM-4.7-Flash) caches one compressed row per token
// instead of K and V per head: K = [c_kv (kv_lora) | k_rope], and V is the c_kv prefix of that same
// row (KvShape::v_in_k). Such a cache has no V pool: v_data() is k_data(), read with K's strides.
//
// Hybrid models (gated-delta linear attention beside softmax attention: Qwen3-Next, Qwen3.5) keep,
// besides K/V for their attention layers, a recurrent state per sequence (KvShape::state_floats:
// conv inputs and delta-rule states of every linear layer) that a new token updates in place. The
// cache holds `state_slots` of them; the engine gives each running sequence one (StepInput's
// state_slots). A state cannot be shortened like a block table, so rollback of rejected draft
// tokens goes through a snapshot (save_state before the verify step, restore_state after it, then
// the accepted tokens are computed again), and each slot records how many tokens its state covers
// so that a step that would continue a sequence from the wrong point is refused.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "backend/backend.h"

namespace ax {

enum class KvType { F32, F16 };
std::string_view kv_type_name(KvType t);  // "f32", "f16"
std::optional<KvType> kv_type_from_name(std::string_view name);
size_t kv_type_bytes(KvType t);

// What a model keeps per token and layer.
struct KvShape {
  int64_t num_layers = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;  // K values per kv head (and V values, unless v_in_k)
  // > 0: the cache keeps K rows only, and V is the first v_in_k values of each K row (MLA's latent:
  // K = [c_kv | k_rope], V = c_kv, v_in_k = kv_lora_rank). 0: V rows of head_dim values of their own.
  int64_t v_in_k = 0;
  // Recurrent state one sequence keeps across all linear-attention layers, in floats (0: none).
  int64_t state_floats = 0;
  // [num_layers]: each layer's K (and V) values per kv head where layers differ (Gemma 4's sliding
  // and full layers); empty: head_dim for every layer.
  std::vector<int64_t> layer_head_dims;

  int64_t v_head_dim() const { return v_in_k > 0 ? v_in_k : head_dim; }
  int64_t layer_head_dim(int64_t layer) const { return layer_head_dims.empty() ? head_dim : layer_head_dims[layer]; }
  // Values one token keeps per layer of head_dim (K, plus V unless it lies inside K), and over all
  // layers.
  int64_t values_per_token_layer() const { return num_kv_heads * head_dim * (v_in_k > 0 ? 1 : 2); }
  int64_t values_per_token() const;
  bool operator==(const KvShape&) const = default;
};

class KvCache {
 public:
  // state_slots: sequences that can hold a recurrent state at once (needed when shape.state_floats > 0).
  KvCache(Backend& be, const KvShape& shape, int64_t num_blocks, int64_t block_size = 16, KvType type = KvType::F32,
          int64_t state_slots = 0);

  Backend& backend() const { return be_; }
  const KvShape& shape() const { return shape_; }
  int64_t num_blocks() const { return num_blocks_; }
  int64_t block_size() const { return block_size_; }
  int64_t num_layers() const { return shape_.num_layers; }
  int64_t num_kv_heads() const { return shape_.num_kv_heads; }
  int64_t head_dim() const { return shape_.head_dim; }
  int64_t head_dim(int64_t layer) const;  // this layer's K values per kv head (KvShape::layer_head_dims)
  int64_t v_head_dim() const { return shape_.v_head_dim(); }
  bool v_in_k() const { return shape_.v_in_k > 0; }  // no V rows: V is a prefix of each K row
  int64_t kv_width(int64_t layer) const { return shape_.num_kv_heads * head_dim(layer); }
  KvType type() const { return type_; }

  // Layer `layer`'s K (or V) values in the cache's element type, in the backend's memory. With
  // v_in_k, v_data is k_data: V is read from the K rows, with K's strides.
  void* k_data(int64_t layer) const { return base(layer, false); }
  void* v_data(int64_t layer) const { return base(layer, !v_in_k()); }
  // Values between one kv head's blocks and the next head's in layer `layer`.
  int64_t head_stride(int64_t layer) const { return num_blocks_ * block_size_ * head_dim(layer); }

  // One (layer, block, slot) written from / read back as floats (k: [num_kv_heads, head_dim(layer)],
  // v: [num_kv_heads, v_head_dim] or head_dim(layer)), by copies through the backend (tests and tools; the model writes
  // with Backend::write_kv). store rounds to the cache's type (nearest even); load is exact. With
  // v_in_k, store ignores v (V is part of K) and load fills v from the K row's prefix.
  void store(int64_t layer, int64_t block, int64_t slot, const float* k, const float* v);
  void load(int64_t layer, int64_t block, int64_t slot, float* k, float* v) const;

  // ---- recurrent state (KvShape::state_floats > 0) ----
  int64_t state_slots() const { return state_slots_; }
  int64_t state_floats() const { return shape_.state_floats; }
  // Slot `slot`'s state_floats values (float32) in the backend's memory.
  float* state_data(int64_t slot) const;
  // Tokens the slot's state covers (0: empty). The model checks and advances it every step.
  int64_t state_length(int64_t slot) const;
  void set_state_length(int64_t slot, int64_t n);
  // A snapshot of one slot (values and length) in host memory, and putting it back.
  void save_state(int64_t slot);
  void restore_state(int64_t slot);

  // Bytes one block costs across all layers (K and V, or K alone with v_in_k): sizes the pool from a
  // memory budget.
  static size_t bytes_per_block(const KvShape& shape, int64_t block_size, KvType type);

 private:
  int pools_per_layer() const { return v_in_k() ? 1 : 2; }  // K and V, or K alone
  void* base(int64_t layer, bool v) const;
  void check(int64_t layer, int64_t block, int64_t slot) const;
  Backend& be_;
  KvShape shape_;
  int64_t num_blocks_, block_size_;
  KvType type_;
  std::vector<size_t> layer_start_;  // [num_layers + 1] values before each layer's K
  DeviceBuffer pool_;  // [layer][K, V][that layer's values] ([layer][K] with v_in_k), zero-filled
  void check_state_slot(int64_t slot) const;
  int64_t state_slots_ = 0;
  DeviceBuffer states_;                          // [state_slots][state_floats]
  std::vector<int64_t> state_len_;               // [state_slots]
  std::vector<std::vector<float>> saved_;        // [state_slots] snapshots (empty: none)
  std::vector<int64_t> saved_len_;               // [state_slots]
};

}  // namespace ax
