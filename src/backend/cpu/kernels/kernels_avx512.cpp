// The kernel bodies (kernels_body.inc) compiled for AVX-512 F/BW/VL/DQ + VNNI (Ice Lake, Sapphire Rapids, Zen 4/5).
// Every header is included before the target pragma so that no inline library code is compiled
// for this ISA and later picked by the linker for callers on other CPUs.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "backend/cpu/kernels/isa_kernels.h"
#include "format/dequant.h"
#include "util/half.h"

#pragma GCC push_options
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own undefined-vector helpers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#define AX_KERNELS_VNNI 1

namespace ax::cpu::kernels::avx512 {
#include "backend/cpu/kernels/kernels_body.inc"

// ---- prefill GEMM with vdpbf16ps (AVX-512 BF16) ---------------------------------------------------
// Outer-product form: a panel holds 32 weight rows as bf16 pairs interleaved across the rows
// (panel[p * 32 + row] = {w[row][2p], w[row][2p+1]}), so one 64-byte load gives 16 rows' pair p and
// each activation row contributes one broadcast pair: acc[r][16 rows] += x[r][2p..2p+1] . w[..][2p..].
// No horizontal sums; each accumulator is 16 finished outputs.
#define AX_BF16_TARGET \
  __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512bf16")))

AX_BF16_TARGET void to_bf16(const float* x, int64_t count, uint16_t* out) {
  int64_t i = 0;
  for (; i + 32 <= count; i += 32) {
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
    _mm512_storeu_si512(out + i, (__m512i)v);
  }
  for (; i < count; ++i) out[i] = f32_to_bf16(x[i]);
}

// Dequantizes weight rows [0, rows) (rows <= 32; the rest of the panel is zero) into the panel.
AX_BF16_TARGET void pack_panel(DType t, const uint8_t* w, size_t row_bytes, int64_t k, int64_t rows,
                               uint32_t* panel, float* rowbuf) {
  const __m512i index = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(static_cast<int>(kPanelRows)));
  for (int64_t r = 0; r < kPanelRows; ++r) {
    if (t == DType::BF16 && r < rows) {  // stored pairs are already the panel's: no round trip
      const uint8_t* src = w + r * row_bytes;
      for (int64_t p = 0; p < k / 2; p += 16)
        _mm512_i32scatter_epi32(panel + p * kPanelRows + r, index, _mm512_loadu_si512(src + 4 * p), 4);
      continue;
    }
    if (r < rows) {
      dequant_row(t, w + r * row_bytes, rowbuf, k);
    } else {
      std::memset(rowbuf, 0, static_cast<size_t>(k) * 4);
    }
    for (int64_t p = 0; p < k / 2; p += 16) {
      const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(rowbuf + 2 * p + 16), _mm512_loadu_ps(rowbuf + 2 * p));
      _mm512_i32scatter_epi32(panel + p * kPanelRows + r, index, (__m512i)v, 4);
    }
  }
}

template <int NR>
AX_BF16_TARGET void gemm_tile(const uint32_t* panel, const uint32_t* xp, int64_t kp, int64_t r0, float* y,
                              int64_t ldy, __mmask16 m0, __mmask16 m1) {
  __m512 acc0[NR], acc1[NR];
  #pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
  const uint32_t* xr = xp + r0 * kp;
  for (int64_t p = 0; p < kp; ++p) {
    const __m512bh w0 = (__m512bh)_mm512_loadu_si512(panel + p * kPanelRows);
    const __m512bh w1 = (__m512bh)_mm512_loadu_si512(panel + p * kPanelRows + 16);
    #pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) {
      const __m512bh xb = (__m512bh)_mm512_set1_epi32(static_cast<int>(xr[r * kp + p]));
      acc0[r] = _mm512_dpbf16_ps(acc0[r], xb, w0);
      acc1[r] = _mm512_dpbf16_ps(acc1[r], xb, w1);
    }
  }
  #pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
    _mm512_mask_storeu_ps(y + (r0 + r) * ldy, m0, acc0[r]);
    _mm512_mask_storeu_ps(y + (r0 + r) * ldy + 16, m1, acc1[r]);
  }
}

constexpr int kGemmRows = 8;  // activation rows per micro-tile: 16 accumulators of 32 zmm

AX_BF16_TARGET void gemm_bf16(DType t, const uint8_t* w, size_t row_bytes, const uint16_t* xb, int64_t k,
                              int64_t n, int64_t o0, int64_t o1, float* y, int64_t ldy, uint32_t* panel,
                              float* rowbuf) {
  const int64_t kp = k / 2;
  const auto* xp = reinterpret_cast<const uint32_t*>(xb);
  for (int64_t o = o0; o < o1; o += kPanelRows) {
    const int64_t rows = o1 - o < kPanelRows ? o1 - o : kPanelRows;
    pack_panel(t, w + o * row_bytes, row_bytes, k, rows, panel, rowbuf);
    const __mmask16 m0 = static_cast<__mmask16>(rows >= 16 ? 0xffff : (1u << rows) - 1);
    const __mmask16 m1 = static_cast<__mmask16>(rows >= 32 ? 0xffff : rows <= 16 ? 0 : (1u << (rows - 16)) - 1);
    float* yo = y + o;
    int64_t r = 0;
    for (; r + kGemmRows <= n; r += kGemmRows) gemm_tile<kGemmRows>(panel, xp, kp, r, yo, ldy, m0, m1);
    switch (n - r) {
      case 7: gemm_tile<7>(panel, xp, kp, r, yo, ldy, m0, m1); break;
      case 6: gemm_tile<6>(panel, xp, kp, r, yo, ldy, m0, m1); break;
      case 5: gemm_tile<5>(panel, xp, kp, r, yo, ldy, m0, m1); break;
      case 4: gemm_tile<4>(panel, xp, kp, r, yo, ldy, m0, m1); break;
      case 3: gemm_tile<3>(panel, xp, kp, r, yo, ldy, m0, m1); break;
      case 2: gemm_tile<2>(panel, xp, kp, r, yo, ldy, m0, m1); break;
      case 1: gemm_tile<1>(panel, xp, kp, r, yo, ldy, m0, m1); break;
      default: break;
    }
  }
}
#undef AX_BF16_TARGET

const IsaKernels& table() {
  static const IsaKernels t = [] {
    IsaKernels k;
    fill_table(k);
    if (__builtin_cpu_supports("avx512bf16")) {
      k.to_bf16 = to_bf16;
      k.gemm_bf16 = gemm_bf16;
    }
    return k;
  }();
  return t;
}
}  // namespace ax::cpu::kernels::avx512

#undef AX_KERNELS_VNNI
#pragma GCC diagnostic pop
#pragma GCC pop_options

namespace ax::cpu::kernels {
const IsaKernels& avx512_kernels() { return avx512::table(); }
}  // namespace ax::cpu::kernels
