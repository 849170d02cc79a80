#include "model/blocks.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"
#include "util/thread_pool.h"

namespace ax {
float* scratch(std::vector<float>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
  return v.data();
}

namespace {
thread_local std::vector<float> t_q, t_k, t_v, t_ctx, t_gate, t_up;
}  // namespace

void check_batch(const Batch& batch, const KvCache& kv, int64_t vocab_size) {
  const int64_t T = batch.num_tokens();
  const int64_t bs = kv.block_size();
  for (size_t si = 0; si < batch.sequences.size(); ++si) {
    const BatchSequence& s = batch.sequences[si];
    if (s.token_offset < 0 || s.num_tokens < 0 || s.token_offset + s.num_tokens > T)
      fail("batch: sequence {} covers tokens [{}, {}) outside the batch's {} tokens", si, s.token_offset,
           s.token_offset + s.num_tokens, T);
    if (s.start_pos < 0) fail("batch: sequence {} has negative start_pos {}", si, s.start_pos);
    if (s.num_tokens == 0) continue;
    if (s.block_table == nullptr) fail("batch: sequence {} has no block table", si);
    const int64_t end = s.start_pos + s.num_tokens;
    const int64_t need = (end + bs - 1) / bs;
    if (static_cast<int64_t>(s.block_table->size()) < need)
      fail("batch: sequence {} reaches position {} but its block table has {} blocks of {} slots", si, end - 1,
           s.block_table->size(), bs);
    for (int64_t b = 0; b < need; ++b) {
      const int32_t id = (*s.block_table)[b];
      if (id < 0 || id >= kv.num_blocks())
        fail("batch: sequence {} block table entry {} is block {}, outside the cache's {} blocks", si, b, id,
             kv.num_blocks());
    }
    for (int64_t t = s.token_offset; t < s.token_offset + s.num_tokens; ++t)
      if (batch.tokens[t] < 0 || batch.tokens[t] >= vocab_size)
        fail("batch: token {} of sequence {} is id {}, outside the vocabulary of {}", t, si, batch.tokens[t],
             vocab_size);
  }
  for (int64_t r : batch.logit_rows)
    if (r < 0 || r >= T) fail("batch: logit row {} is outside the batch's {} tokens", r, T);
}

void attention(const AttentionWeights& w, const AttentionShape& s, const cpu::RopeFreqs& rope,
               const Batch& batch, int64_t layer, const float* h, int64_t hidden, KvCache& kv,
               float* out) {
  const int64_t T = batch.num_tokens();
  const int64_t hd = s.head_dim;
  const int64_t q_width = s.num_heads * hd, kv_width = s.num_kv_heads * hd;

  // Projections: q [T, q width], k and v [T, kv width].
  float* q = scratch(t_q, T * q_width);
  float* k = scratch(t_k, T * kv_width);
  float* v = scratch(t_v, T * kv_width);
  const TensorView* qkv_w[] = {w.q, w.k, w.v};
  float* qkv_y[] = {q, k, v};
  cpu::linear_many(qkv_w, qkv_y, 3, h, T);
  if (!w.q_bias.empty()) cpu::add_bias(q, w.q_bias.data(), T, q_width);
  if (!w.k_bias.empty()) cpu::add_bias(k, w.k_bias.data(), T, kv_width);
  if (!w.v_bias.empty()) cpu::add_bias(v, w.v_bias.data(), T, kv_width);

  // Qwen3: RMSNorm of each head's q and k (rows of head_dim) before RoPE.
  if (!w.q_norm.empty()) cpu::rms_norm(q, w.q_norm.data(), T * s.num_heads, hd, s.norm_eps, q);
  if (!w.k_norm.empty()) cpu::rms_norm(k, w.k_norm.data(), T * s.num_kv_heads, hd, s.norm_eps, k);

  // RoPE at each token's position, then K/V into the cache slot of that position. Tokens are
  // independent (each writes its own slot), so a long batch splits them over the pool.
  const int64_t bs = kv.block_size();
  for (const BatchSequence& seq : batch.sequences) {
    auto tokens = [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t t = seq.token_offset + i, pos = seq.start_pos + i;
        cpu::rope(q + t * q_width, s.num_heads, k + t * kv_width, s.num_kv_heads, hd, pos, rope);
        kv.store(layer, (*seq.block_table)[pos / bs], pos % bs, k + t * kv_width, v + t * kv_width);
      }
    };
    if (seq.num_tokens * (q_width + 2 * kv_width) >= (1 << 16)) {  // else dispatch costs more than it saves
      default_thread_pool().parallel_for(seq.num_tokens, 8, tokens);
    } else {
      tokens(0, seq.num_tokens);
    }
  }

  // softmax(q · K^T * scale) · V per token and head, over keys j with pos - W < j <= pos, read
  // through the sequence's block table (cpu::attention: the fast kernel, or the scalar reference).
  float* ctx = scratch(t_ctx, T * q_width);  // [T, q width]
  for (const BatchSequence& seq : batch.sequences) {
    if (seq.num_tokens == 0) continue;
    const cpu::PagedKvView paged = kv.view(layer, seq.block_table->data());
    cpu::attention(q + seq.token_offset * q_width, q_width, seq.num_tokens, seq.start_pos, s.num_heads,
                   s.num_kv_heads, hd, s.scale, s.window, paged, ctx + seq.token_offset * q_width, q_width);
  }

  // Output projection: out [T, hidden].
  cpu::linear(*w.o, ctx, T, out);
  if (!w.o_bias.empty()) cpu::add_bias(out, w.o_bias.data(), T, hidden);
}

void mlp_swiglu(const TensorView& gate, const TensorView& up, const TensorView& down,
                const float* h, int64_t n, float* out) {
  const int64_t inter = gate.rows();
  float* g = scratch(t_gate, n * inter);  // [n, intermediate]
  float* u = scratch(t_up, n * inter);
  const TensorView* gate_up_w[] = {&gate, &up};
  float* gate_up_y[] = {g, u};
  cpu::linear_many(gate_up_w, gate_up_y, 2, h, n);
  cpu::swiglu(g, u, n * inter);
  cpu::linear(down, g, n, out);
}

}  // namespace ax
