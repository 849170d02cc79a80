#pragma once
// Fast CPU matmul kernels for weights in their stored GGUF layout, chosen at run time by CPU
// features (the tiers below). The scalar reference in backend/cpu/ops is the oracle; these must
// agree with it within the error of the 8-bit activation quantization.
//
// Shapes: W is {out, in} row-major in its stored dtype (each row a whole number of blocks, row stride
// row_bytes(dtype, in)); x is {n, in} float32; y is {n, out} float32.
//
// Nothing here is global state: the CPU backend (cpu_backend.cpp) owns the weights' packed copies
// and its options (batch invariance) and passes them in.
#include <cstdint>
#include <string>

#include "backend/cpu/attention_call.h"
#include "backend/rope_freqs.h"
#include "format/dtype.h"
#include "format/tensor.h"

namespace ax {
class ThreadPool;
}

namespace ax::cpu::kernels {

// Kernel tiers, narrowest first. Avx2: AVX2 + FMA + F16C (Haswell and later, Zen 1 and later).
// Avx2Vnni: that plus AVX-VNNI (256-bit vpdpbusd without AVX-512: Alder Lake and later, Zen 5);
// its packed tiles use vpdpbusd, its per-row kernels are the AVX2 ones. Avx512: F/BW/VL/DQ + VNNI
// (Ice Lake, Sapphire Rapids, Zen 4 and later), with AMX tiles where the CPU has them (amx_enabled).
enum class Isa { Scalar, Avx2, Avx2Vnni, Avx512 };

// The tier the engine runs: the widest this CPU supports, unless the environment caps it with
// AX_CPU_TIER=scalar|avx2|avx2-vnni|avx512 (then the widest supported tier at or below that one;
// for A/B measurements and for testing a narrower tier's kernels on a wider CPU). An unknown name
// is an error. Read once per process.
Isa best_isa();
const char* isa_name(Isa isa);  // "scalar", "avx2", "avx2-vnni", "avx512"
// The tier of a name isa_name gives; false when there is none.
bool isa_from_name(const std::string& name, Isa* isa);
bool isa_supported(Isa isa);    // this CPU can run it
// The kernels the engine runs, for logs and reports: isa_name(best_isa()), with "+amx" where
// packed calls of many rows run on AMX tiles.
std::string kernel_tier();
// The same in words, for doctor and bench speed: "avx2 packed tiles (vpmaddubsw)", "avx512-vnni
// packed tiles + AMX-INT8", "scalar reference", ...; where AX_CPU_TIER capped the tier it says so
// and names this CPU's own.
std::string kernel_tier_description();

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

// The row ops of a forward step at the engine's tier's vector width, bit for bit the reference's
// results (backend/cpu/reference.h: ref::add, ref::rms_norm, ref::rope).
void add(float* y, const float* x, int64_t n);
void rms_norm(const float* x, const float* w, int64_t n, int64_t dim, float eps, float* y);
void rope(float* q, int64_t num_q_heads, float* k, int64_t num_k_heads, int64_t head_dim, int64_t pos,
          const RopeFreqs& f);

// x as IEEE half, rounded to nearest even (f32_to_fp16 of util/half.h, F16C where the CPU has it):
// what an f16 KV cache stores.
void to_f16(const float* x, uint16_t* out, int64_t n);

}  // namespace ax::cpu::kernels
