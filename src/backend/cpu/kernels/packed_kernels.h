#pragma once
// The tile kernels behind matmul_packed (internal to backend/cpu/kernels): one table per tier.
#include <cstdint>

#include "backend/cpu/kernels/kernels.h"
#include "backend/cpu/kernels/packed.h"

namespace ax::cpu::kernels {

// Activations of one packed matmul, quantized per row as for the per-row kernels:
//   q int8 {n, k}; d float {n, k / qblock} (qblock 32 for Q8_0/Q4_0/MXFP4, 256 for the K-quants);
//   s int16 {n, k / sgroup}: sums of q per 32 values (Q8_0/Q4_0/MXFP4) or per 16 (K-quants);
//   s32 int16 {n, k / 32}: sums per 32 values (K-quants only, for the Q4_K/Q5_K mins);
//   x float {n, k}: the input itself (float weights only; the quantized fields are then null).
struct PackedActs {
  const int8_t* q;
  const float* d;
  const int16_t* s;
  const int16_t* s32;
  const float* x;
  int64_t k;
};

// y[r * ldy + 16g + i] for rows r < n, groups g in [g0, g1), lanes i < 16.
using PackedFn = void (*)(const PackedMatrix& m, const PackedActs& a, int64_t n, int64_t g0, int64_t g1,
                          float* y, int64_t ldy);

struct PackedKernels {
  PackedFn q8_0, q4_0, q4_k, q5_k, q6_k, f32, f16, bf16, mxfp4;
  PackedFn for_dtype(DType t) const {
    switch (t) {
      case DType::F32: return f32;
      case DType::F16: return f16;
      case DType::BF16: return bf16;
      case DType::Q8_0: return q8_0;
      case DType::Q4_0: return q4_0;
      case DType::Q4_K: return q4_k;
      case DType::Q5_K: return q5_k;
      case DType::Q6_K: return q6_k;
      case DType::MXFP4: return mxfp4;
      default: return nullptr;
    }
  }
};

// The kernels of a tier, or nullptr for Scalar and tiers this CPU lacks: AVX-512 F/BW/VL + VNNI
// (packed_avx512.cpp), AVX2 with AVX-VNNI or without (both in packed_avx2.cpp). Each
// lane does the same integer and float steps in all of them: their outputs are bit-identical.
const PackedKernels* packed_kernels(Isa isa);
// The same with AMX int8 tiles for the quant types (packed_amx.cpp; bit-identical results), where
// this CPU and OS allow them; else nullptr. The AVX-512 tier uses them for calls of kAmxMinRows
// activation rows or more.
const PackedKernels* packed_amx_kernels();
constexpr int64_t kAmxMinRows = 32;

// The tables of each kernel file, whatever the CPU (packed_kernels checks it can run them).
const PackedKernels* packed_avx512_table();
const PackedKernels* packed_avx2_table();
const PackedKernels* packed_avx2_vnni_table();

}  // namespace ax::cpu::kernels
