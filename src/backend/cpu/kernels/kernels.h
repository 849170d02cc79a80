#pragma once
// Fast CPU matmul kernels for weights in their stored GGUF layout, chosen at run time by CPU
// features (AVX2+FMA+F16C, or AVX-512 with VNNI/BF16). The scalar reference in backend/cpu/ops is the
// oracle; these must agree with it within the error of the 8-bit activation quantization.
//
// Shapes: W is {out, in} row-major in its stored dtype (each row a whole number of blocks, row stride
// row_bytes(dtype, in)); x is {n, in} float32; y is {n, out} float32.
//
// Nothing here is global state: the CPU backend (cpu_backend.cpp) owns the weights' packed copies
// and its options (batch invariance) and passes them in.
#include <cstdint>

#include "backend/cpu/attention_call.h"
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
// Q6_K, MXFP4). Scalar never does: its path is the reference.
bool has_fast_path(DType t, Isa isa);

// y = x · W^T. Returns false (y untouched) when there is no fast kernel for wtype on `isa`; the
// caller then runs the reference. `in` must be a multiple of the dtype's block size. Quantized
// weights see x quantized once to 8-bit blocks (32 values per scale for Q8_0/Q4_0/MXFP4, 256 for the
// K-quants); float weights see x as float32. Work is split over output rows on `pool` (nullptr =
// the default pool). batch_invariant: see gemm_kind.
bool matmul(DType wtype, const uint8_t* w, int64_t out, int64_t in, const float* x, int64_t n,
            float* y, Isa isa, ThreadPool* pool = nullptr, bool batch_invariant = true);
inline bool matmul(DType wtype, const uint8_t* w, int64_t out, int64_t in, const float* x,
                   int64_t n, float* y) {
  return matmul(wtype, w, out, in, x, n, y, best_isa(), nullptr, true);
}

// Calls with at least this many activation rows (prefill, large batches) run a GEMM: each thread
// dequantizes panels of weight rows once per call and multiplies them with every activation row.
// With AVX-512 BF16 the panels and x are rounded to bf16 and products accumulate in float32
// (vdpbf16ps); elsewhere panels are float32 and x stays float32 (FMA). Fewer rows take the 8-bit
// matvec kernels.
constexpr int64_t kGemmMinRows = 32;
enum class GemmKind { None, Bf16, F32 };
// Batch invariance (the default): a row's result never depends on how many rows share the call,
// so a request gets the same logits, and the same tokens, alone or batched, prefilled in one piece
// or after a cached prefix. Every n then takes the per-row kernels (8-bit activation dot products /
// float32 FMA), which compute each row identically however they group rows: the answer is None.
// Without it, calls with kGemmMinRows rows or more may take the panel GEMM: faster prefill, but its
// rounding (bf16 panels) differs from the per-row kernels', so results depend on the batch.
GemmKind gemm_kind(DType wtype, Isa isa, int64_t n, int64_t in, bool batch_invariant);

// Causal attention of one sequence's T query tokens over its paged K/V (backend/cpu/
// attention_call.h), keys/values for position j, kv head g at c.kv.at(j, g) of kv.k (or kv.k16 for
// an f16 cache). One pass over the keys (online softmax in chunks), K/V read once per group of query
// heads; the (token, kv head) pairs are split over the pool.
void attention(const AttentionCall& c, ThreadPool* pool = nullptr, Isa isa = best_isa());

// out[i] = silu(gate[i]) * up[i] for i < n, in one pass (the SwiGLU of an MLP). out may alias gate
// or up.
void swiglu(const float* gate, const float* up, float* out, int64_t n);

// x as IEEE half, rounded to nearest even (f32_to_fp16 of util/half.h, F16C where the CPU has it):
// what an f16 KV cache stores.
void to_f16(const float* x, uint16_t* out, int64_t n);

}  // namespace ax::cpu::kernels
