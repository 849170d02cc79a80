#include "backend/cpu/reference.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "format/dequant.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace ax::cpu::ref {
namespace {

const uint8_t* row_ptr(const TensorView& w, int64_t row) {
  return w.data + static_cast<size_t>(row) * row_bytes(w.dtype, w.cols());
}

// Output rows [row_begin, row_end) of y = x . W^T.
void linear_rows(const TensorView& w, const float* x, int64_t n, float* y, int64_t row_begin, int64_t row_end) {
  const int64_t in = w.cols(), out = w.rows();
  std::vector<float> buf(w.dtype == DType::F32 ? 0 : in);
  for (int64_t o = row_begin; o < row_end; ++o) {
    const float* wr;
    if (w.dtype == DType::F32) {
      wr = reinterpret_cast<const float*>(row_ptr(w, o));
    } else {
      dequantize_row_of(w, o, buf.data());  // once per weight row, reused for all n inputs
      wr = buf.data();
    }
    for (int64_t r = 0; r < n; ++r) y[r * out + o] = dot(x + r * in, wr, in);
  }
}

}  // namespace

float dot(const float* a, const float* b, int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) s[k] += a[i + k] * b[i + k];
  for (; i < n; ++i) s[i % 8] += a[i] * b[i];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

void dequantize_row_of(const TensorView& w, int64_t row, float* dst) {
  dequantize_row(w.dtype, row_ptr(w, row), dst, w.cols());
}

void linear(const TensorView& w, const float* x, int64_t n, float* y, int threads) {
  if (w.shape.size() != 2) fail("linear: weight '{}' has {} dimensions, expected 2", w.name, w.shape.size());
  const int64_t out = w.rows();
  // Split output rows only when the product is sizeable; tiny models run on the calling thread
  // (dispatch would cost more than it saves).
  const int64_t work = out * w.cols() * std::max<int64_t>(n, 1);
  if (threads <= 1 || work < (1 << 18)) {
    linear_rows(w, x, n, y, 0, out);
    return;
  }
  default_thread_pool().parallel_for(out, 16, [&](int64_t b, int64_t e) { linear_rows(w, x, n, y, b, e); });
}

void embedding(const TensorView& table, const int32_t* tokens, int64_t n, float* out) {
  const int64_t vocab = table.rows(), dim = table.cols();
  for (int64_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= vocab)
      fail("embedding: token id {} is outside the vocabulary of {} rows of '{}'", tokens[i], vocab, table.name);
    dequantize_row_of(table, tokens[i], out + i * dim);
  }
}

void rms_norm(const float* x, const float* w, int64_t n, int64_t dim, float eps, float* y) {
  for (int64_t r = 0; r < n; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    const float ss = dot(xr, xr, dim);
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(dim) + eps);
    for (int64_t i = 0; i < dim; ++i) yr[i] = w[i] * (xr[i] * inv);
  }
}

void add_bias(float* x, const float* b, int64_t n, int64_t dim) {
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < dim; ++i) x[r * dim + i] += b[i];
}

void add(float* y, const float* x, int64_t count) {
  for (int64_t i = 0; i < count; ++i) y[i] += x[i];
}

void copy_columns(const float* x, int64_t x_cols, int64_t col0, int64_t n, int64_t out_cols, float* out) {
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < out_cols; ++c) out[r * out_cols + c] = x[r * x_cols + col0 + c];
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  float mx = x[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, x[i]);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu(float* gate, const float* up, int64_t count) {
  for (int64_t i = 0; i < count; ++i) gate[i] = silu(gate[i]) * up[i];
}

void geglu(float* gate, const float* up, int64_t count) {
  for (int64_t i = 0; i < count; ++i) gate[i] = gelu_tanh(gate[i]) * up[i];
}

void swiglu_clamped(float* gate, const float* up, int64_t count) {
  constexpr float limit = 7.0f, alpha = 1.702f;  // Backend's kGluClampLimit, kGluClampAlpha
  for (int64_t i = 0; i < count; ++i) {
    const float g = std::min(gate[i], limit), u = std::clamp(up[i], -limit, limit);
    gate[i] = (u + 1.0f) * (g / (1.0f + std::exp(-alpha * g)));
  }
}

void scale(float* x, float s, int64_t count) {
  for (int64_t i = 0; i < count; ++i) x[i] *= s;
}

void softcap(float* x, float cap, int64_t count) {
  for (int64_t i = 0; i < count; ++i) x[i] = cap * std::tanh(x[i] / cap);
}

void rope_angles(int64_t head_dim, int64_t pos, const RopeFreqs& f, float* c, float* s) {
  const int64_t half = f.rotary_dim / 2;
  if (f.rotary_dim > head_dim || f.rotary_dim % 2 != 0 || static_cast<int64_t>(f.inv_freq.size()) != half)
    fail("rope: rotary_dim {} does not fit head_dim {} with {} frequencies", f.rotary_dim, head_dim, f.inv_freq.size());
  // The angle is formed in float32 (pos * inv_freq), as the reference implementations do; the
  // cosine and sine of that float are then taken accurately.
  const float p = static_cast<float>(pos);
  for (int64_t i = 0; i < half; ++i) {
    const float angle = p * f.inv_freq[i];
    c[i] = static_cast<float>(std::cos(static_cast<double>(angle))) * f.attention_factor;
    s[i] = static_cast<float>(std::sin(static_cast<double>(angle))) * f.attention_factor;
  }
}

namespace {

void rotate(float* x, int64_t num_heads, int64_t head_dim, const RopeFreqs& f, const float* c, const float* s) {
  const int64_t half = f.rotary_dim / 2;
  for (int64_t h = 0; h < num_heads; ++h) {
    float* v = x + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      // a, b: the pair rotated by angle i.
      float* a = f.adjacent_pairs ? v + 2 * i : v + i;
      float* b = f.adjacent_pairs ? v + 2 * i + 1 : v + i + half;
      const float a0 = *a, b0 = *b;
      *a = a0 * c[i] - b0 * s[i];
      *b = b0 * c[i] + a0 * s[i];
    }
  }
}

thread_local std::vector<float> t_rope_c, t_rope_s;

}  // namespace

void rope(float* q, int64_t num_q_heads, float* k, int64_t num_k_heads, int64_t head_dim, int64_t pos,
          const RopeFreqs& f) {
  const size_t half = f.inv_freq.size();
  if (t_rope_c.size() < half) t_rope_c.resize(half), t_rope_s.resize(half);
  rope_angles(head_dim, pos, f, t_rope_c.data(), t_rope_s.data());
  rotate(q, num_q_heads, head_dim, f, t_rope_c.data(), t_rope_s.data());
  if (k != nullptr) rotate(k, num_k_heads, head_dim, f, t_rope_c.data(), t_rope_s.data());
}

void attention(const AttentionCall& c) {
  const int64_t hd = c.head_dim, vd = c.v_width(), group = c.num_heads / c.num_kv_heads;  // query heads per kv head
  const PagedKvView& kv = c.kv;
  // Row j of kv head g as floats: in place, or (an f16 cache) widened exactly into a buffer.
  std::vector<float> kbuf(hd), vbuf(vd);
  std::vector<float> scores;
  for (int64_t t = 0; t < c.T; ++t) {
    const int64_t pos = c.start_pos + t;
    const int64_t first = c.window > 0 ? std::max<int64_t>(0, pos - c.window + 1) : 0;
    scores.resize(pos - first + 1);
    for (int64_t h = 0; h < c.num_heads; ++h) {
      const int64_t g = h / group;
      const float* qh = c.q + t * c.q_stride + h * hd;
      for (int64_t j = first; j <= pos; ++j) {  // scores, then softmax, then the weighted sum of V
        float s = dot(qh, kv_row_f32(kv.k, kv.k16, kv.at(j, g), hd, kbuf.data()), hd) * c.scale;
        if (c.softcap > 0) s = c.softcap * std::tanh(s / c.softcap);
        scores[j - first] = s;
      }
      if (c.sinks != nullptr) {  // the sink joins the softmax as one more logit, with no value
        scores.push_back(c.sinks[h]);
        softmax(scores.data(), static_cast<int64_t>(scores.size()));
        scores.pop_back();
      } else {
        softmax(scores.data(), static_cast<int64_t>(scores.size()));
      }
      float* oh = c.out + t * c.out_stride + h * vd;
      std::fill(oh, oh + vd, 0.0f);
      for (int64_t j = first; j <= pos; ++j) {
        const float* vj = kv_row_f32(kv.v, kv.v16, kv.at(j, g), vd, vbuf.data());
        const float p = scores[j - first];
        for (int64_t i = 0; i < vd; ++i) oh[i] += p * vj[i];
      }
    }
  }
}

}  // namespace ax::cpu::ref
