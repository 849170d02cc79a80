#pragma once
// Shared transformer blocks over the backend ops. Activations are float32 Tensors [T, width] in the
// backend's memory, T = the step's token count; weights are Weight handles the model uploaded.
#include <cstdint>

#include "backend/backend.h"
#include "backend/kv_cache.h"

namespace ax {

// One attention layer's weights (Hugging Face names), q width = num_heads * head_dim,
// kv width = num_kv_heads * head_dim.
struct AttentionWeights {
  const Weight* q = nullptr;  // self_attn.q_proj.weight [q width, hidden]
  const Weight* k = nullptr;  // self_attn.k_proj.weight [kv width, hidden]
  const Weight* v = nullptr;  // self_attn.v_proj.weight [kv width, hidden]
  const Weight* o = nullptr;  // self_attn.o_proj.weight [hidden, q width]
  // [q width, hidden]: the output gate (Qwen3-Next, Qwen3.5: the gate half of each head's q_proj
  // rows), ctx *= sigmoid(gate . h) before o_proj; null: none
  const Weight* gate = nullptr;
  DeviceVector q_bias;        // [q width]  (empty: none; Qwen2 has q/k/v biases)
  DeviceVector k_bias;        // [kv width]
  DeviceVector v_bias;        // [kv width]
  DeviceVector o_bias;        // [hidden]
  DeviceVector q_norm;        // self_attn.q_norm.weight [head_dim] (empty: none; Qwen3)
  DeviceVector k_norm;        // self_attn.k_norm.weight [head_dim]
  DeviceVector v_norm;        // [head_dim] ones: each head's values RMS-normalised without a weight (Gemma 4)
};

// The per-step buffers the attention block works in: q and ctx [T, q width], k and v [T, kv width],
// gate [T, q width] (only with an output gate).
struct AttentionScratch {
  Tensor q, k, v, ctx, gate;
};

// Multi-head attention over the paged KV cache for every token of the step:
//   h: [T, hidden] normalised input;  out: [T, hidden]
// Writes K/V of every new token into kv at (layer, its slot) first, then each token attends over
// the visible positions of its own sequence (p.window).
//   q_norm_eps: epsilon of the per-head q/k RMSNorm (Qwen3).
void attention_block(Backend& be, const AttentionWeights& w, const AttentionParams& p, float q_norm_eps,
                     const RopeTable& rope, const StepView& step, KvCache& kv, int64_t layer, const Tensor& h,
                     AttentionScratch& s, Tensor out);

// Gated feed-forward (SwiGLU, GeGLU): out[T, hidden] = down(act(gate(h)) * up(h)).
//   gate, up: [intermediate, hidden]; down: [hidden, intermediate]; g, u: [T, intermediate] scratch.
void mlp_glu(Backend& be, GluKind act, const Weight& gate, const Weight& up, const Weight& down, const Tensor& h,
             Tensor g, Tensor u, Tensor out);

}  // namespace ax
