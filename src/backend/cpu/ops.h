#pragma once
// CPU reference ops: plain scalar float32, the oracle every fast kernel is checked against.
// Activations are row-major float32 arrays; weights are TensorViews of any supported dtype
// (shape {out, in}, rows contiguous), consumed in place from the mapped file.
#include <cstdint>
#include <memory>
#include <vector>

#include "backend/cpu/paged_kv.h"
#include "format/tensor.h"

namespace ax::cpu {

// ---- Linear layer --------------------------------------------------------------------------
// y[n, out] = x[n, in] · W^T, W a TensorView of shape {out, in}.
//
// linear() is the entry point the model calls. It runs the registered fast kernel (by default
// backend/cpu/kernels' linear_kernel) when it accepts W's dtype, else linear_reference(). linear_reference() dequantizes each
// row of W once (ax::dequantize_row) and takes float32 dot products with every x row.
void linear(const TensorView& w, const float* x, int64_t n, float* y);
void linear_reference(const TensorView& w, const float* x, int64_t n, float* y);
// ys[i][n, out_i] = x[n, in] · W_i^T for `count` weights that read the same x (q/k/v; gate/up):
// with the default kernels and packed weights, one quantization of x and one pass over the pool for
// all of them; else one linear() each. Results are the same either way.
void linear_many(const TensorView* const* ws, float* const* ys, int count, const float* x, int64_t n);

// A fast kernel: returns false (having written nothing) when it does not handle w's dtype/shape,
// and linear() falls back to the reference. Passing nullptr leaves the reference alone.
using LinearKernel = bool (*)(const TensorView& w, const float* x, int64_t n, float* y);
void set_linear_kernel(LinearKernel kernel);
LinearKernel linear_kernel_in_use();  // nullptr: the reference alone

// Prepares a model's linear weights once at load for the fast kernels: where this CPU has packed
// kernels for a weight's dtype (AVX-512 VNNI; see backend/cpu/kernels/packed.h) it is repacked into
// 16-row tiles that linear() then uses, and its own pages are released. The weights share one
// buffer in the order given: list them in the order a decode step reads them. The model keeps the
// handle as long as it uses the weights (nullptr: nothing prepared, linear() reads them in place).
// Off when the fast kernels are off, or when the environment sets AX_PACKED_WEIGHTS=0 (for A/B
// measurements).
using PreparedWeight = std::shared_ptr<const void>;
PreparedWeight prepare_linears(const std::vector<const TensorView*>& ws);

// Threads the reference linear may split output rows over: the process-wide pool of
// util/thread_pool.h (n <= 0: all hardware threads; 1: the calling thread only). Every
// output value is computed by the same instruction sequence whatever the count, so results do not
// depend on it.
void set_num_threads(int n);
int num_threads();

// ---- Elementwise and row ops --------------------------------------------------------------------
// sum a[i] * b[i] in eight interleaved float32 partial sums added pairwise: a fixed order (the
// result depends only on the inputs), more accurate than one running sum and vectorizable.
float dot(const float* a, const float* b, int64_t n);
// One row of w (any supported dtype) as float32: dst[w.cols()].
void dequantize_row_of(const TensorView& w, int64_t row, float* dst);
// A whole (small) tensor as float32: norm weights, biases.
std::vector<float> to_float(const TensorView& t);

// Embedding lookup: out[i, :] = table[tokens[i], :], table shape {vocab, dim}.
void embedding(const TensorView& table, const int32_t* tokens, int64_t n, float* out);

// y[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w, for n rows of width dim. y may alias x.
void rms_norm(const float* x, const float* w, int64_t n, int64_t dim, float eps, float* y);

// x[r, :] += b for n rows of width dim.
void add_bias(float* x, const float* b, int64_t n, int64_t dim);
// y[i] += x[i]
void add(float* y, const float* x, int64_t count);

// In-place softmax of one row of length n (max-subtracted).
void softmax(float* x, int64_t n);

inline float silu(float x) { return x / (1.0f + __builtin_expf(-x)); }
// gate[i] = silu(gate[i]) * up[i]
void swiglu(float* gate, const float* up, int64_t count);

// x as IEEE half, rounded to nearest even (bit for bit f32_to_fp16 of util/half.h; F16C where the
// CPU has it): what an f16 KV cache stores.
void to_f16(const float* x, uint16_t* out, int64_t n);

// ---- Attention over the paged KV cache ----------------------------------------------------------
// One layer's K/V for one sequence: cpu::PagedKvView (backend/cpu/paged_kv.h).

// Causal attention of T query tokens at positions start_pos .. start_pos + T - 1 of one sequence
// (their K/V already in the cache), grouped-query heads (query head h reads kv head
// h / (num_heads / num_kv_heads)):
//   q:   [T, q_stride], head h at h * head_dim (RoPE applied)
//   out: [T, out_stride], head h at h * head_dim, written (not accumulated):
//        out_t,h = sum_j softmax_j(q_t,h . k_j * scale) v_j  over  pos - window < j <= pos
//        (window 0: all j <= pos).
// attention() runs the registered kernel (backend/cpu/kernels by default), attention_reference()
// the scalar two-pass definition.
void attention(const float* q, int64_t q_stride, int64_t T, int64_t start_pos, int64_t num_heads,
               int64_t num_kv_heads, int64_t head_dim, float scale, int64_t window, const PagedKvView& kv,
               float* out, int64_t out_stride);
void attention_reference(const float* q, int64_t q_stride, int64_t T, int64_t start_pos, int64_t num_heads,
                         int64_t num_kv_heads, int64_t head_dim, float scale, int64_t window,
                         const PagedKvView& kv, float* out, int64_t out_stride);
using AttentionKernel = void (*)(const float* q, int64_t q_stride, int64_t T, int64_t start_pos,
                                 int64_t num_heads, int64_t num_kv_heads, int64_t head_dim, float scale,
                                 int64_t window, const PagedKvView& kv, float* out, int64_t out_stride);
void set_attention_kernel(AttentionKernel kernel);  // nullptr: the reference alone
AttentionKernel attention_kernel_in_use();

// Turns every registered fast kernel off (false) or back to the defaults (true): the golden tests
// run the model on the pure reference path this way.
void use_fast_kernels(bool on);

// ---- Rotary position embedding -----------------------------------------------------------------
// The per-frequency angles of a RoPE variant, computed once by the model (model/rope.h) from its
// config. angle_i(pos) = pos * inv_freq[i]; rotated values are scaled by attention_factor (YaRN's
// magnitude correction, 1 elsewhere).
struct RopeFreqs {
  std::vector<float> inv_freq;  // [rotary_dim / 2]
  float attention_factor = 1.0f;
  int64_t rotary_dim = 0;       // the first rotary_dim dims of each head rotate; the rest pass
  bool adjacent_pairs = false;  // pairs (2i, 2i+1) instead of rotate-half pairs (i, i + rd/2)
};

// Rotates x[num_heads, head_dim] in place for position pos.
void rope(float* x, int64_t num_heads, int64_t head_dim, int64_t pos, const RopeFreqs& f);
// The same for a token's queries q[num_q_heads, head_dim] and keys k[num_k_heads, head_dim] at one
// position: the angles' cosines and sines are computed once for both.
void rope(float* q, int64_t num_q_heads, float* k, int64_t num_k_heads, int64_t head_dim, int64_t pos,
          const RopeFreqs& f);

}  // namespace ax::cpu
