#pragma once
// The per-instruction-set kernel table behind kernels::matmul (internal to backend/cpu/kernels).
// Each ISA file (kernels_avx2.cpp, kernels_avx512.cpp) compiles the same kernel bodies
// (kernels_body.inc) for its target and exports one table; dispatch.cpp picks one at run time.
// Only raw pointers cross this boundary, so no inline library code is compiled for a wider ISA than
// the caller's.
#include <cstddef>
#include <cstdint>

#include "backend/cpu/attention_call.h"
#include "backend/cpu/kernels/kernels.h"
#include "format/dtype.h"

namespace ax::cpu::kernels {

// Activations of one matmul, prepared once and read by every weight row.
//   q: int8 {n, k} quantized values; d: float {n, k / qblock} scales (x ≈ q * d);
//   s: int16 {n, k / sgroup} sums of q over groups of sgroup values (for weight offsets / mins);
//   x: the float32 input {n, k} (float-weight kernels read it directly).
struct Acts {
  const int8_t* q = nullptr;
  const float* d = nullptr;
  const int16_t* s = nullptr;
  const float* x = nullptr;
  int64_t k = 0;
};

// Computes y[r * ldy + o] for rows r in [0, n) and weight rows o in [o0, o1).
using RowsFn = void (*)(const uint8_t* w, size_t row_bytes, const Acts& a, int64_t n, int64_t o0,
                        int64_t o1, float* y, int64_t ldy);
// Quantizes n rows of x {n, k}: per block of `qblock` values one scale, per `sgroup` values one sum.
using QuantizeFn = void (*)(const float* x, int64_t n, int64_t k, int8_t* q, float* d, int16_t* s);

// One attention call (see kernels::attention). Work items are (kv head, tile of `tile` consecutive
// query tokens) pairs, item = kv_head * ceil(T / tile) + tile index (consecutive items share one kv
// head's keys and values, which then stay in L2); each item covers the query heads sharing that kv
// head. tile > 1 needs window == 0.
struct AttnArgs : AttentionCall {
  int64_t tile = 1;      // query tokens per work item
  // > 0: items are single segments of keys (kAttnSegment each), written unnormalized: segment 0
  // into out, segment s > 0 of (token t, head h) into part_o[((t * num_heads + h) * segments + s) *
  // head_dim], each one's max and sum into part_ml[(... + s) * 2]; attention_combine then folds them.
  int64_t segments = 0;
  float* part_o = nullptr;
  float* part_ml = nullptr;
};

// Keys per attention segment: without a window a token's keys are split at multiples of this, each
// segment its own online softmax, folded in order. Fixed, so that a long context's one-token calls
// (decode) can spread their segments over threads with the same arithmetic as a prefill's items.
constexpr int64_t kAttnSegment = 1024;

struct IsaKernels {
  QuantizeFn quantize_q8_32 = nullptr;   // qblock 32, sgroup 32 (Q8_0, Q4_0, MXFP4)
  QuantizeFn quantize_q8_256 = nullptr;  // qblock 256, sgroup 16 (Q4_K, Q5_K, Q6_K)
  RowsFn f32 = nullptr;
  RowsFn f16 = nullptr;
  RowsFn bf16 = nullptr;
  RowsFn q8_0 = nullptr;
  RowsFn q4_0 = nullptr;
  RowsFn q4_k = nullptr;
  RowsFn q5_k = nullptr;
  RowsFn q6_k = nullptr;
  RowsFn mxfp4 = nullptr;
  void (*swiglu)(const float* gate, const float* up, float* out, int64_t n) = nullptr;
  // The row ops of kernels.h (add, rms_norm, rope), bit for bit the reference's results.
  void (*add)(float* y, const float* x, int64_t n) = nullptr;
  void (*rms_norm)(const float* x, const float* w, int64_t n, int64_t dim, float eps, float* y) = nullptr;
  void (*rope_rotate)(float* x, int64_t num_heads, int64_t head_dim, int64_t rotary_dim, bool adjacent, const float* c,
                      const float* s) = nullptr;
  void (*to_f16)(const float* x, uint16_t* out, int64_t n) = nullptr;
  void (*attention)(const AttnArgs& a, int64_t item0, int64_t item1) = nullptr;
  void (*attention_combine)(const AttnArgs& a, int64_t pair0, int64_t pair1) = nullptr;
  int attention_tile = 1;  // query tokens per item the attention kernel takes when window == 0
  // One weight row (k values of type t) to float32.
  void (*dequant_row)(DType t, const uint8_t* src, float* dst, int64_t k) = nullptr;

  // Prefill GEMM for many activation rows (nullptr where the ISA has none): weight rows [o0, o1)
  // are dequantized kPanelRows at a time into `panel` (kPanelRows * k 16-bit values, k/2 pairs
  // interleaved across the rows) and multiplied with every row of xb, the activations {n, k} in
  // bfloat16 (to_bf16). rowbuf holds k floats.
  void (*to_bf16)(const float* x, int64_t count, uint16_t* out) = nullptr;
  void (*gemm_bf16)(DType t, const uint8_t* w, size_t row_bytes, const uint16_t* xb, int64_t k,
                    int64_t n, int64_t o0, int64_t o1, float* y, int64_t ldy, uint32_t* panel,
                    float* rowbuf) = nullptr;
  // The same in float32 (no bf16 dot product): panels of kF32PanelRows rows, panel[k * 16 + row];
  // x is the float32 input {n, k}; panel holds 16 * k floats, rowbuf k floats.
  void (*gemm_f32)(DType t, const uint8_t* w, size_t row_bytes, const float* x, int64_t k, int64_t n,
                   int64_t o0, int64_t o1, float* y, int64_t ldy, float* panel, float* rowbuf) = nullptr;
};

constexpr int64_t kPanelRows = 32;
constexpr int64_t kF32PanelRows = 16;

const IsaKernels& avx2_kernels();
const IsaKernels& avx512_kernels();
// The table of a tier (Avx2Vnni runs the AVX2 one), or nullptr for Scalar and tiers this CPU lacks.
const IsaKernels* isa_kernels(Isa isa);

}  // namespace ax::cpu::kernels
