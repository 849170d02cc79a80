#include "backend/cpu/gated_delta.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "util/error.h"
#include "util/thread_pool.h"

namespace ax::cpu {
namespace {

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
float silu(float x) { return x / (1.0f + std::exp(-x)); }
// torch.nn.functional.softplus (beta 1, threshold 20: linear above it).
float softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }

void run(bool threaded, int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  if (threaded && n > 1) {
    default_thread_pool().parallel_for(n, 1, fn);
  } else {
    fn(0, n);
  }
}

}  // namespace

void sigmoid_mul(Tensor x, const Tensor& gate) {
  if (gate.rows != x.rows || (gate.cols != x.cols && gate.cols != 1))
    fail("sigmoid_mul: a gate of {} x {} for {} x {} values", gate.rows, gate.cols, x.rows, x.cols);
  for (int64_t r = 0; r < x.rows; ++r)
    for (int64_t c = 0; c < x.cols; ++c) x.data[r * x.cols + c] *= sigmoid(gate.data[r * gate.cols + (gate.cols == 1 ? 0 : c)]);
}

void gated_delta(const StepInput& step, KvCache& kv, const GatedDeltaParams& p, Tensor qkv, const Tensor& a,
                 const Tensor& b, Tensor out, bool threaded) {
  const int64_t T = step.num_tokens(), S = step.num_sequences();
  const int64_t C = p.channels(), K = p.conv_kernel, nk = p.num_k_heads, nv = p.num_v_heads;
  const int64_t dk = p.k_head_dim, dv = p.v_head_dim, kw = p.key_width(), per_k = nv / nk;
  const int64_t conv_floats = (K - 1) * C;
  if (qkv.rows != T || qkv.cols != C || a.rows != T || a.cols != nv || b.rows != T || b.cols != nv ||
      out.rows != T || out.cols != nv * dv)
    fail("gated_delta: tensors of {} x {}, {} x {}, {} x {} and {} x {} for {} tokens of {} channels", qkv.rows,
         qkv.cols, a.rows, a.cols, b.rows, b.cols, out.rows, out.cols, T, C);
  if (p.state_offset + conv_floats + nv * dk * dv > kv.state_floats())
    fail("gated_delta: the layer's state ends past the {} floats of a state slot", kv.state_floats());
  auto state_of = [&](int64_t s) {
    const int32_t slot = step.state_slots.at(s);
    return kv.state_data(slot) + p.state_offset;
  };
  // A sequence starting at position 0 starts from nothing.
  for (int64_t s = 0; s < S; ++s)
    if (step.positions[step.seq_begin[s]] == 0) std::fill_n(state_of(s), conv_floats + nv * dk * dv, 0.0f);

  // 1. Causal depthwise conv and SiLU, channel by channel, each sequence's tokens in order; the
  //    conv state keeps the last K - 1 inputs [K - 1, C], oldest first.
  const float* w = p.conv->data();
  constexpr int64_t kChannelBlock = 64;
  const int64_t blocks = (C + kChannelBlock - 1) / kChannelBlock;
  run(threaded, S * blocks, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t s = i / blocks, c0 = (i % blocks) * kChannelBlock, c1 = std::min(C, c0 + kChannelBlock);
      float* hist = state_of(s);
      for (int64_t t = step.seq_begin[s]; t < step.seq_begin[s + 1]; ++t) {
        float* x = qkv.data + t * C;
        for (int64_t c = c0; c < c1; ++c) {
          const float* wc = w + c * K;
          float y = wc[K - 1] * x[c];
          for (int64_t j = 0; j < K - 1; ++j) y += wc[j] * hist[j * C + c];
          for (int64_t j = 0; j + 1 < K - 1; ++j) hist[j * C + c] = hist[(j + 1) * C + c];
          if (K > 1) hist[(K - 2) * C + c] = x[c];
          x[c] = silu(y);
        }
      }
    }
  });

  // 2. q and k of every token: L2-normalised per key head; q also scaled by dk^-0.5.
  const float q_scale = 1.0f / std::sqrt(static_cast<float>(dk));
  run(threaded, T * nk, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t t = i / nk, h = i % nk;
      for (int which = 0; which < 2; ++which) {
        float* v = qkv.data + t * C + which * kw + h * dk;
        float ss = 0;
        for (int64_t j = 0; j < dk; ++j) ss += v[j] * v[j];
        const float inv = 1.0f / std::sqrt(ss + 1e-6f) * (which == 0 ? q_scale : 1.0f);
        for (int64_t j = 0; j < dk; ++j) v[j] *= inv;
      }
    }
  });

  // 3. The recurrence, per sequence and value head, token by token.
  const float* neg_a = p.neg_a->data();
  const float* dt_bias = p.dt_bias->data();
  run(threaded, S * nv, [&](int64_t i0, int64_t i1) {
    std::vector<float> delta(static_cast<size_t>(dv));
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t s = i / nv, h = i % nv, kh = p.v_heads_tiled ? h % nk : h / per_k;
      float* st = state_of(s) + conv_floats + h * dk * dv;  // [dk, dv]
      for (int64_t t = step.seq_begin[s]; t < step.seq_begin[s + 1]; ++t) {
        const float* q = qkv.data + t * C + kh * dk;
        const float* k = qkv.data + t * C + kw + kh * dk;
        const float* v = qkv.data + t * C + 2 * kw + h * dv;
        const float decay = std::exp(neg_a[h] * softplus(a.data[t * nv + h] + dt_bias[h]));
        const float beta = sigmoid(b.data[t * nv + h]);
        for (int64_t j = 0; j < dk * dv; ++j) st[j] *= decay;
        std::fill(delta.begin(), delta.end(), 0.0f);
        for (int64_t r = 0; r < dk; ++r)
          for (int64_t c = 0; c < dv; ++c) delta[c] += st[r * dv + c] * k[r];
        for (int64_t c = 0; c < dv; ++c) delta[c] = (v[c] - delta[c]) * beta;
        for (int64_t r = 0; r < dk; ++r)
          for (int64_t c = 0; c < dv; ++c) st[r * dv + c] += k[r] * delta[c];
        float* o = out.data + t * nv * dv + h * dv;
        std::fill_n(o, dv, 0.0f);
        for (int64_t r = 0; r < dk; ++r)
          for (int64_t c = 0; c < dv; ++c) o[c] += st[r * dv + c] * q[r];
      }
    }
  });
}

}  // namespace ax::cpu
