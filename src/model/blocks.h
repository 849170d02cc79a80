#pragma once
// Shared transformer blocks over the CPU reference ops. Activations are row-major float32
// [T, width] arrays, T = the batch's token count; weights are TensorViews from the model file.
#include <cstdint>
#include <vector>

#include "backend/cpu/ops.h"
#include "format/tensor.h"
#include "model/batch.h"
#include "model/kv_cache.h"

namespace ax {

// One attention layer's weights (Hugging Face names), q width = num_heads * head_dim,
// kv width = num_kv_heads * head_dim.
struct AttentionWeights {
  const TensorView* q = nullptr;  // self_attn.q_proj.weight [q width, hidden]
  const TensorView* k = nullptr;  // self_attn.k_proj.weight [kv width, hidden]
  const TensorView* v = nullptr;  // self_attn.v_proj.weight [kv width, hidden]
  const TensorView* o = nullptr;  // self_attn.o_proj.weight [hidden, q width]
  std::vector<float> q_bias;      // [q width]  (empty: none; Qwen2 has q/k/v biases)
  std::vector<float> k_bias;      // [kv width]
  std::vector<float> v_bias;      // [kv width]
  std::vector<float> o_bias;      // [hidden]
  std::vector<float> q_norm;      // self_attn.q_norm.weight [head_dim] (empty: none; Qwen3)
  std::vector<float> k_norm;      // self_attn.k_norm.weight [head_dim]
};

struct AttentionShape {
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;  // GQA: query head h reads kv head h / (num_heads / num_kv_heads)
  int64_t head_dim = 0;
  int64_t window = 0;        // sliding window W: query i sees keys j with i - W < j <= i; 0 = all
  float norm_eps = 1e-6f;    // for q_norm / k_norm
  float scale = 0.0f;        // score scale (1/sqrt(head_dim) for these models)
};

// A per-thread activation buffer of at least n floats, reused across forward passes (kept as a
// thread_local by the caller): a prefill chunk's buffers are megabytes, and fresh ones each call
// cost page faults and zeroing (~10 % of a 512-token prefill).
float* scratch(std::vector<float>& v, int64_t n);

// Checks a batch against the cache before anything is written: token ranges, positions, block
// tables long enough and block ids in range, logit rows in range. Throws ax::Error.
void check_batch(const Batch& batch, const KvCache& kv, int64_t vocab_size);

// Multi-head attention over the paged KV cache for every token of the batch.
//   h:   [T, hidden] normalised input;  out: [T, hidden]
// Writes K/V of every new token into kv at (layer, its position) first, then each token attends
// over positions [0, pos] (windowed) of its own sequence.
void attention(const AttentionWeights& w, const AttentionShape& s, const cpu::RopeFreqs& rope,
               const Batch& batch, int64_t layer, const float* h, int64_t hidden, KvCache& kv,
               float* out);

// SwiGLU feed-forward: out[T, hidden] = down(silu(gate(h)) * up(h)).
//   gate, up: [intermediate, hidden]; down: [hidden, intermediate]
void mlp_swiglu(const TensorView& gate, const TensorView& up, const TensorView& down,
                const float* h, int64_t n, float* out);

}  // namespace ax
