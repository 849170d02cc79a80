#pragma once
// The CPU reference ops: plain scalar float32, the oracle every fast kernel (CPU and CUDA) is
// checked against, and what the reference backend (BackendOptions::reference) runs. Activations
// are row-major float32 arrays; weights are TensorViews of any supported dtype (shape {out, in},
// rows contiguous), read in place from the mapped file.
#include <cmath>
#include <cstdint>
#include <vector>

#include "backend/cpu/attention_call.h"
#include "backend/rope_freqs.h"
#include "format/tensor.h"

namespace ax::cpu::ref {

// sum a[i] * b[i] in eight interleaved float32 partial sums added pairwise: a fixed order (the
// result depends only on the inputs), more accurate than one running sum and vectorizable.
float dot(const float* a, const float* b, int64_t n);
// One row of w (any supported dtype) as float32: dst[w.cols()].
void dequantize_row_of(const TensorView& w, int64_t row, float* dst);

// y[n, out] = x[n, in] . W^T, W of shape {out, in}: each row of W dequantized once, then float32
// dot products with every x row. Output rows may be split over `threads` threads of the default
// pool (each value is computed the same way whatever the split); 1: the calling thread only.
void linear(const TensorView& w, const float* x, int64_t n, float* y, int threads = 1);

// out[i, :] = table[tokens[i], :], table {vocab, dim}.
void embedding(const TensorView& table, const int32_t* tokens, int64_t n, float* out);
// y[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w, for n rows of width dim. y may alias x.
void rms_norm(const float* x, const float* w, int64_t n, int64_t dim, float eps, float* y);
void add_bias(float* x, const float* b, int64_t n, int64_t dim);  // x[r, :] += b
void add(float* y, const float* x, int64_t count);                 // y[i] += x[i]
// out[r, :] = x[r, col0 .. col0 + out_cols) for n rows, x rows x_cols apart.
void copy_columns(const float* x, int64_t x_cols, int64_t col0, int64_t n, int64_t out_cols, float* out);
void softmax(float* x, int64_t n);                                 // in place, max-subtracted
inline float silu(float x) { return x / (1.0f + __builtin_expf(-x)); }
// GELU with the tanh approximation (PyTorch's gelu(approximate="tanh")).
inline float gelu_tanh(float x) {
  return 0.5f * x * (1.0f + std::tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
}
void swiglu(float* gate, const float* up, int64_t count);          // gate[i] = silu(gate[i]) * up[i]
void geglu(float* gate, const float* up, int64_t count);           // gate[i] = gelu_tanh(gate[i]) * up[i]
// gpt-oss: gate[i] = (clamp(up, -7, 7) + 1) * g * sigmoid(1.702 g), g = min(gate[i], 7).
void swiglu_clamped(float* gate, const float* up, int64_t count);
void scale(float* x, float s, int64_t count);                      // x[i] *= s
void softcap(float* x, float cap, int64_t count);                  // x[i] = cap * tanh(x[i] / cap)


// Rotates a token's queries q[num_q_heads, head_dim] and keys k[num_k_heads, head_dim] (k may be
// null) for position pos: the angles' cosines and sines are computed once for both.
void rope(float* q, int64_t num_q_heads, float* k, int64_t num_k_heads, int64_t head_dim, int64_t pos,
          const RopeFreqs& f);
// The cosines c and sines s [rotary_dim / 2] of position pos's angles, times attention_factor
// (what rope rotates by; checks that f fits head_dim).
void rope_angles(int64_t head_dim, int64_t pos, const RopeFreqs& f, float* c, float* s);

// The two-pass definition (scores, softmax, weighted sum of V).
void attention(const AttentionCall& c);

}  // namespace ax::cpu::ref
