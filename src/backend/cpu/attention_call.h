#pragma once
// One attention call over one sequence's paged K/V, as the CPU reference and kernels take it.
#include <cstdint>

#include "backend/cpu/paged_kv.h"

namespace ax::cpu {

// Causal attention of T query tokens at positions start_pos .. start_pos + T - 1 of one sequence
// (their K/V already in the cache), grouped-query heads (query head h reads kv head
// h / (num_heads / num_kv_heads)):
//   q:   [T, q_stride], head h at h * head_dim (RoPE applied)
//   out: [T, out_stride], head h at h * v_width(), written (not accumulated):
//        out_t,h = sum_j softmax_j(q_t,h . k_j * scale) v_j  over  pos - window < j <= pos
//        (window 0: all j <= pos).
// K rows are head_dim values; V rows are read as their first v_width() values at the same offsets
// (kv.v may be kv.k: MLA's V is the latent prefix of each K row).
struct AttentionCall {
  const float* q = nullptr;
  int64_t q_stride = 0;
  int64_t T = 0;          // query tokens
  int64_t start_pos = 0;  // position of query token 0
  int64_t num_heads = 0, num_kv_heads = 0, head_dim = 0;
  int64_t v_dim = 0;      // V (and output) values per head; 0: head_dim
  float scale = 0.0f;
  int64_t window = 0;     // > 0: keys pos - window < j <= pos only
  float softcap = 0.0f;   // > 0: scores -> softcap * tanh(score / softcap)
  const float* sinks = nullptr;  // [num_heads]: a logit per head in every softmax, with no value
  PagedKvView kv;         // the paged keys and values
  float* out = nullptr;
  int64_t out_stride = 0;

  int64_t v_width() const { return v_dim > 0 ? v_dim : head_dim; }
};

}  // namespace ax::cpu
