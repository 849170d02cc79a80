#pragma once
// Fast CPU matmul kernels for weights in their stored GGUF layout, chosen at run time by CPU
// features (AVX2+FMA+F16C, or AVX-512 with VNNI/BF16). The scalar reference in backend/cpu/ops is the
// oracle; these must agree with it within the error of the 8-bit activation quantization.
//
// Shapes: W is {out, in} row-major in its stored dtype (each row a whole number of blocks, row stride
// row_bytes(dtype, in)); x is {n, in} float32; y is {n, out} float32.
#include <cstdint>

#include "backend/cpu/paged_kv.h"
#include "format/dtype.h"
#include "format/tensor.h"

namespace ax {
class ThreadPool;
}

namespace ax::cpu::kernels {

enum class Isa { Scalar, Avx2, Avx512 };

Isa best_isa();                // the widest tier this CPU supports
const char* isa_name(Isa isa); // "scalar", "avx2", "avx512"
bool isa_supported(Isa isa);   // this CPU can run it

// True when `isa` has a fast kernel for weights of type t (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K,
// Q6_K). Scalar never does: its path is the reference.
bool has_fast_path(DType t, Isa isa);

// y = x · W^T. Returns false (y untouched) when there is no fast kernel for wtype on `isa`; the
// caller then runs the reference. `in` must be a multiple of the dtype's block size. Quantized
// weights see x quantized once to 8-bit blocks (32 values per scale for Q8_0/Q4_0, 256 for the
// K-quants); float weights see x as float32. Work is split over output rows on `pool` (nullptr =
// the default pool).
bool matmul(DType wtype, const uint8_t* w, int64_t out, int64_t in, const float* x, int64_t n,
            float* y, Isa isa, ThreadPool* pool = nullptr);
inline bool matmul(DType wtype, const uint8_t* w, int64_t out, int64_t in, const float* x,
                   int64_t n, float* y) {
  return matmul(wtype, w, out, in, x, n, y, best_isa(), nullptr);
}

// Calls with at least this many activation rows (prefill, large batches) run a GEMM: each thread
// dequantizes panels of weight rows once per call and multiplies them with every activation row.
// With AVX-512 BF16 the panels and x are rounded to bf16 and products accumulate in float32
// (vdpbf16ps); elsewhere panels are float32 and x stays float32 (FMA). Fewer rows take the 8-bit
// matvec kernels.
constexpr int64_t kGemmMinRows = 32;
enum class GemmKind { None, Bf16, F32 };
// None whenever batch_invariant() is on.
GemmKind gemm_kind(DType wtype, Isa isa, int64_t n, int64_t in);

// Batch invariance (on by default): a row's result never depends on how many rows share the call,
// so a request gets the same logits, and the same tokens, alone or batched, prefilled in one piece
// or after a cached prefix. Every n then takes the per-row kernels (8-bit activation dot products /
// float32 FMA), which compute each row identically however they group rows. Off lets calls with
// kGemmMinRows rows or more take the panel GEMM: faster prefill, but its rounding (bf16 panels)
// differs from the per-row kernels', so results depend on the batch. Process-wide; set it before
// compute starts.
void set_batch_invariant(bool on);
bool batch_invariant();

// The LinearKernel ops::linear runs by default: kernels::matmul on the best ISA for a 2-D weight,
// declining (false) where there is no fast path so the reference runs.
bool linear_kernel(const TensorView& w, const float* x, int64_t n, float* y);
// Several weights that read the same x in one pass (matmul_packed_many) when all have packed copies
// that can share x; false (nothing written) otherwise.
bool linear_kernel_many(const TensorView* const* ws, float* const* ys, int count, const float* x, int64_t n);

// Causal attention of T query tokens of one sequence over its paged K/V cache (one layer), with
// grouped-query heads: query head h reads kv head h / (num_heads / num_kv_heads).
//   q:   [T, q_stride] floats, head h at h * head_dim (RoPE already applied);
//   keys/values for position j, kv head g: head_dim values at kv.at(j, g) of kv.k (or kv.k16 for
//        an f16 cache), same for v (backend/cpu/paged_kv.h);
//   out: [T, out_stride], head h at h * head_dim:
//        softmax_j(q_t,h . k_j * scale) . v_j over first(t) <= j <= start_pos + t, where first =
//        max(0, pos - window + 1) if window > 0 else 0.
// One pass over the keys (online softmax in chunks), K/V read once per group of query heads; the
// (token, kv head) pairs are split over the pool.
void attention(const float* q, int64_t q_stride, int64_t T, int64_t start_pos, int64_t num_heads,
               int64_t num_kv_heads, int64_t head_dim, float scale, int64_t window,
               const PagedKvView& kv, float* out, int64_t out_stride, ThreadPool* pool = nullptr,
               Isa isa = best_isa());

// out[i] = silu(gate[i]) * up[i] for i < n, in one pass (the SwiGLU of an MLP). out may alias gate
// or up.
void swiglu(const float* gate, const float* up, float* out, int64_t n);

// x as IEEE half, rounded to nearest even (f32_to_fp16 of util/half.h, F16C where the CPU has it):
// what an f16 KV cache stores.
void to_f16(const float* x, uint16_t* out, int64_t n);

}  // namespace ax::cpu::kernels
