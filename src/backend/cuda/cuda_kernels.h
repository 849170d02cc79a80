#pragma once
// The CUDA backend's kernel launchers (defined in the .cu files), all on one stream. Shapes as in
// backend/backend.h: activations are float32 row-major device arrays.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "backend/cuda/device_layout.h"

namespace ax::cuda {

// ---- linear.cu ----------------------------------------------------------------------------------------
// Calls with at most 8 * kSmallMaxBlocks rows take the decode variant, which reads float32 x
// itself; larger ones read x's f16 fragments (needs_fragments).
constexpr int kSmallMaxBlocks = 4;
bool needs_fragments(int64_t n);
// 8-token blocks of x's fragments for n rows (to_fragments writes them all, zeros past n): size the
// buffer fragment_blocks(n) * kp * 16 bytes.
int64_t fragment_blocks(int64_t n);
// x [n, k] float32 (rows ldx apart) -> f16 fragments for a weight of padded width kp.
void to_fragments(const float* x, int64_t n, int64_t k, int64_t ldx, int64_t kp, uint4* xf, cudaStream_t stream);
int slice_chunks_for(int chunks);

struct LinearArgs {
  const uint8_t* w = nullptr;  // the matrix in its device layout
  size_t row_stride = 0;
  int64_t m = 0;               // output rows
  int64_t kp = 0;              // padded K
  int chunks = 0;              // kp / 256
  int slice_chunks = 0;        // slice_chunks_for(chunks)
  const uint4* xf = nullptr;   // x's fragments (prefill variant)
  const float* x = nullptr;    // x itself [n, ldx], k values a row (decode variant)
  int64_t ldx = 0, k = 0;
  int64_t n = 0;               // rows of x
  float* y = nullptr;          // [n, ldy]
  int64_t ldy = 0;
};
void linear_fragments(DevType type, const LinearArgs& a, cudaStream_t stream);

// ---- elementwise.cu -------------------------------------------------------------------------------------
// out[i, :] = row tokens[i] of w (device layout) as float32 (first `cols` values).
void embedding(const DeviceLayout& w, const uint8_t* data, const int32_t* tokens, int64_t n, float* out,
               cudaStream_t stream);
// y = rms_norm(x) * w per row; with `residual`, x += residual first (written back).
void rms_norm(float* x, const float* residual, const float* w, int64_t rows, int64_t dim, float eps, float* y,
              cudaStream_t stream);
void add(float* y, const float* x, int64_t count, cudaStream_t stream);
void add_bias(float* y, const float* b, int64_t rows, int64_t dim, cudaStream_t stream);
// gate = act(gate) * up; kind: 0 SiLU, 1 GELU (tanh approximation), 2 gpt-oss's clamped SiLU
// (backend.h's GluKind).
void glu(float* gate, const float* up, int64_t count, int kind, cudaStream_t stream);
void scale(float* x, float s, int64_t count, cudaStream_t stream);
void softcap(float* x, float cap, int64_t count, cudaStream_t stream);
// out[t, :] = sum_i w[t * k + i] * rows[t * k + i, :] for t < n (MoE: each row's experts in order).
void weighted_rows(const float* rows, const float* w, int64_t n, int64_t k, int64_t cols, float* out, int64_t ldo,
                   cudaStream_t stream);
// rows[dst[r], :] = src[r, :] for r < n.
void scatter_rows(const float* src, int64_t cols, const int32_t* dst, int64_t n, float* rows, cudaStream_t stream);
// Per head, a's values then b's: a [n, heads * da], b [n, heads * db] -> out [n, heads * (da + db)].
void concat_heads(const float* a, int64_t da, const float* b, int64_t db, int64_t n, int64_t heads, float* out,
                  cudaStream_t stream);
// out[r, :] = x[r, col0 .. col0 + out_cols) for n rows, x rows x_cols apart.
void copy_columns(const float* x, int64_t x_cols, int64_t col0, int64_t n, int64_t out_cols, float* out,
                  cudaStream_t stream);
struct RopeArgs {
  const int32_t* positions = nullptr;  // [T]
  const float* inv_freq = nullptr;     // [rotary_dim / 2]
  float attention_factor = 1.0f;
  int64_t rotary_dim = 0;
  bool adjacent_pairs = false;
};
void rope(float* q, int64_t q_stride, int64_t q_heads, float* k, int64_t k_stride, int64_t k_heads, int64_t head_dim,
          int64_t T, const RopeArgs& r, cudaStream_t stream);
void gather_rows(const float* x, int64_t cols, const int32_t* rows, int64_t n, float* out, cudaStream_t stream);
// Reads `bytes` (a multiple of 16) once, as fast as the device streams memory (bandwidth probe).
void read_pass(const void* p, size_t bytes, uint32_t* sink, int sms, cudaStream_t stream);

// ---- attention.cu -----------------------------------------------------------------------------------------
struct KvLayer {
  const void* k = nullptr;  // [kv head][block][slot][head_dim] in the cache's type
  const void* v = nullptr;  // the same layout; k itself where V lies in K (MLA)
  bool f16 = true;
  int64_t head_stride = 0;  // values between kv heads
  int64_t block_size = 0;
};
// K/V rows [T, kv_heads * head_dim] of every token into its slot (K alone when v_dst is null).
void write_kv(const KvLayer& kv, void* k_dst, void* v_dst, const float* k, const float* v, const int32_t* slots,
              int64_t T, int64_t kv_heads, int64_t head_dim, cudaStream_t stream);

struct AttentionArgs {
  const float* q = nullptr;  // [T, heads * head_dim]
  float* out = nullptr;      // [T, heads * v_dim]
  int64_t T = 0, heads = 0, kv_heads = 0, head_dim = 0;
  int64_t v_dim = 0;         // V values per head: the first v_dim of rows head_dim apart
  float scale = 0;
  int64_t window = 0;
  float softcap = 0;             // > 0: scores -> softcap * tanh(score / softcap)
  const float* sinks = nullptr;  // [heads]: one logit per head in every softmax, with no value
  const int32_t* positions = nullptr;
  const int32_t* token_seq = nullptr;
  const int32_t* table_begin = nullptr;
  const int32_t* block_tables = nullptr;
  KvLayer kv;
  int64_t max_context = 0;  // bounds the segments a token can have
};
// Keys per attention segment; a token's keys split at multiples of it, folded in order.
constexpr int64_t kAttnSegment = 512;
// Floats of scratch attention() wants for a (the segments' partial results), at most cap_floats
// unless a single token needs more: tokens run in waves that fit.
size_t attention_scratch_floats(const AttentionArgs& a, size_t cap_floats);
void attention(const AttentionArgs& a, float* scratch, size_t scratch_floats, cudaStream_t stream);

}  // namespace ax::cuda
