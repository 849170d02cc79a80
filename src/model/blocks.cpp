#include "model/blocks.h"

namespace ax {

void attention_block(Backend& be, const AttentionWeights& w, const AttentionParams& p, float q_norm_eps,
                     const RopeTable& rope, const StepView& step, KvCache& kv, int64_t layer, const Tensor& h,
                     AttentionScratch& s, Tensor out) {
  const int64_t hd = p.head_dim;
  // Projections: q [T, q width], k and v [T, kv width].
  const Weight* qkv_w[] = {w.q, w.k, w.v, w.gate};
  const Tensor qkv_y[] = {s.q, s.k, s.v, s.gate};
  be.linear_many(std::span(qkv_w, w.gate ? 4 : 3), h, std::span(qkv_y, w.gate ? 4 : 3));
  if (!w.q_bias.empty()) be.add_bias(s.q, w.q_bias);
  if (!w.k_bias.empty()) be.add_bias(s.k, w.k_bias);
  if (!w.v_bias.empty()) be.add_bias(s.v, w.v_bias);

  // Qwen3: RMSNorm of each head's q and k (rows of head_dim) before RoPE (Gemma 4: and v).
  if (!w.q_norm.empty()) be.rms_norm(s.q.reshape(hd), w.q_norm, q_norm_eps, s.q.reshape(hd));
  if (!w.k_norm.empty()) be.rms_norm(s.k.reshape(hd), w.k_norm, q_norm_eps, s.k.reshape(hd));
  if (!w.v_norm.empty()) be.rms_norm(s.v.reshape(hd), w.v_norm, q_norm_eps, s.v.reshape(hd));

  // RoPE at each token's position, then K/V into the cache slot of that position.
  be.rope(step, s.q, p.num_heads, s.k, p.num_kv_heads, hd, rope);
  be.write_kv(step, kv, layer, s.k, s.v);

  // softmax(q . K^T * scale) . V per token and head, over the visible keys of its sequence.
  be.attention(step, kv, layer, s.q, s.ctx, p);

  if (w.gate != nullptr) be.sigmoid_mul(s.ctx, s.gate);

  // Output projection: out [T, hidden].
  be.linear(*w.o, s.ctx, out);
  if (!w.o_bias.empty()) be.add_bias(out, w.o_bias);
}

void mlp_glu(Backend& be, GluKind act, const Weight& gate, const Weight& up, const Weight& down, const Tensor& h,
             Tensor g, Tensor u, Tensor out) {
  const Weight* gate_up_w[] = {&gate, &up};
  const Tensor gate_up_y[] = {g, u};
  be.linear_many(gate_up_w, h, gate_up_y);
  be.glu(act, g, u);
  be.linear(down, g, out);
}

}  // namespace ax
