// The packed tile kernels (layouts in packed.h) for AVX-512 F/BW/VL/DQ + VNNI.
//
// Each zmm lane is one output row. Per quant block every lane computes its exact int32 dot product
// (vpdpbusd: unsigned weight bytes x signed 8-bit activations, 4 values per lane per instruction,
// then the sub-block scales and offsets in int32), and then ONE float step per block:
//   F = fma(float(S_b), d_w * d_x, F)        (K-quants with mins: G = fma(float(M_b), dmin * d_x, G))
// in block order; y = F (- G). Integer sums are exact, so their order is free; the float steps are
// the same for every activation row however many rows the call has (R below only decides how many
// rows share one unpacked weight vector), which is what makes the results batch-invariant.
//
// Activation rows go 4 at a time (one weight unpack feeds 4 rows); a single row keeps more
// independent accumulators instead so the vpdpbusd latency is hidden.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels/packed_kernels.h"

#pragma GCC push_options
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own undefined-vector helpers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")

namespace ax::cpu::kernels::packed_avx512 {
namespace {

inline __m512i bcast32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}
inline __m512i load(const uint8_t* p) { return _mm512_loadu_si512(p); }
inline __m512 load_f16x16(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
// 16 bytes (one per lane) zero-extended to int32 lanes.
inline __m512i lanes_u8(const uint8_t* p) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
// Software prefetch of the tile kPrefetchTiles ahead (the next group's tiles follow the last block
// of this one in memory). Only on the first pass over a group (r0 == 0): later row chunks find the
// tiles in cache. Without it a single row (decode) stalls on every tile: measured 36 GB/s of 82.
constexpr int64_t kPrefetchTiles = 0;
inline void prefetch_ahead(const uint8_t* tile, size_t bytes, int64_t r0) {
  if (r0 != 0) return;
  const char* p = reinterpret_cast<const char*>(tile) + kPrefetchTiles * bytes;
  for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
}
inline __m512i dp(__m512i acc, __m512i w, const int8_t* x4) { return _mm512_dpbusd_epi32(acc, w, bcast32(x4)); }
inline __m512i low4(__m512i w) { return _mm512_and_si512(w, _mm512_set1_epi8(0x0f)); }
inline __m512i high4(__m512i w) { return _mm512_and_si512(_mm512_srli_epi16(w, 4), _mm512_set1_epi8(0x0f)); }

// ---- Q8_0 / Q4_0: blocks of 32, S = dot - offset * sum(x) -------------------------------------------

template <int R>
void q8_0_rows(const PackedMatrix& m, const PackedActs& a, int64_t r0, int64_t g, float* y, int64_t ldy) {
  const int64_t nb = m.blocks, k = a.k;
  __m512 F[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) F[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* t = m.tile(g, b);
    prefetch_ahead(t, m.tile_bytes, r0);
    const __m512 dw = load_f16x16(t);
    __m512i a0[R], a1[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) a0[r] = a1[r] = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int l4 = 0; l4 < 8; l4 += 2) {
      const __m512i w0 = load(t + 32 + 64 * l4), w1 = load(t + 32 + 64 * (l4 + 1));
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const int8_t* xq = a.q + (r0 + r) * k + 32 * b + 4 * l4;
        a0[r] = dp(a0[r], w0, xq);
        a1[r] = dp(a1[r], w1, xq + 4);
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const int64_t row = r0 + r;
      // weights are stored + 128: sum((w + 128) x) - 128 sum(x)
      const __m512i s = _mm512_sub_epi32(_mm512_add_epi32(a0[r], a1[r]), _mm512_set1_epi32(128 * a.s[row * nb + b]));
      F[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, _mm512_set1_ps(a.d[row * nb + b])), F[r]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(y + (r0 + r) * ldy + 16 * g, F[r]);
}

template <int R>
void q4_0_rows(const PackedMatrix& m, const PackedActs& a, int64_t r0, int64_t g, float* y, int64_t ldy) {
  const int64_t nb = m.blocks, k = a.k;
  __m512 F[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) F[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* t = m.tile(g, b);
    prefetch_ahead(t, m.tile_bytes, r0);
    const __m512 dw = load_f16x16(t);
    __m512i a0[R], a1[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) a0[r] = a1[r] = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int l4 = 0; l4 < 4; ++l4) {
      const __m512i w = load(t + 32 + 64 * l4);
      const __m512i lo = low4(w), hi = high4(w);  // values 4*l4.., 16 + 4*l4..
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const int8_t* xq = a.q + (r0 + r) * k + 32 * b + 4 * l4;
        a0[r] = dp(a0[r], lo, xq);
        a1[r] = dp(a1[r], hi, xq + 16);
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const int64_t row = r0 + r;
      const __m512i s = _mm512_sub_epi32(_mm512_add_epi32(a0[r], a1[r]), _mm512_set1_epi32(8 * a.s[row * nb + b]));
      F[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, _mm512_set1_ps(a.d[row * nb + b])), F[r]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(y + (r0 + r) * ldy + 16 * g, F[r]);
}

// ---- Q4_K / Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins ----------------------------------
//   S_b = sum_j sc_j * dot_j,  M_b = sum_j m_j * sum(x over sub-block j)

template <bool Q5>
inline void q45_unpack(const uint8_t* t, int c, int l4, __m512i* lo, __m512i* hi) {
  const __m512i w = load(t + 320 + (c * 8 + l4) * 64);
  *lo = low4(w);
  *hi = high4(w);
  if (Q5) {  // 5th bit: bit 2c of qh for the low sub-block, bit 2c + 1 for the high one
    const __m512i qh = load(t + 2368 + 64 * l4);
    const __m512i one = _mm512_set1_epi8(1);
    *lo = _mm512_or_si512(*lo, _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(qh, 2 * c), one), 4));
    *hi = _mm512_or_si512(*hi, _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(qh, 2 * c + 1), one), 4));
  }
}

template <int R, bool Q5>
void q45_k_rows(const PackedMatrix& m, const PackedActs& a, int64_t r0, int64_t g, float* y, int64_t ldy) {
  const int64_t nb = m.blocks, k = a.k;
  __m512 F[R], G[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) F[r] = G[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* t = m.tile(g, b);
    prefetch_ahead(t, m.tile_bytes, r0);
    __m512i S[R], M[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) S[r] = M[r] = _mm512_setzero_si512();
    // mins: pairs (m_2i, m_2i+1) against the pairs of 32-value sums (vpdpwssd)
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      const __m512i mp = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + 192 + 32 * i)));
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r)
        M[r] = _mm512_dpwssd_epi32(M[r], mp, bcast32(a.s32 + (r0 + r) * (k / 32) + 8 * b + 2 * i));
    }
    if constexpr (R == 1) {
      // one row: all 8 sub-blocks accumulate side by side (8 independent vpdpbusd chains)
      const int8_t* xq = a.q + r0 * k + 256 * b;
      __m512i acc[8];
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) acc[j] = _mm512_setzero_si512();
#pragma GCC unroll 2
      for (int l4 = 0; l4 < 8; ++l4) {
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) {
          __m512i lo, hi;
          q45_unpack<Q5>(t, c, l4, &lo, &hi);
          acc[2 * c] = dp(acc[2 * c], lo, xq + 64 * c + 4 * l4);
          acc[2 * c + 1] = dp(acc[2 * c + 1], hi, xq + 64 * c + 32 + 4 * l4);
        }
      }
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) S[0] = _mm512_add_epi32(S[0], _mm512_mullo_epi32(acc[j], lanes_u8(t + 64 + 16 * j)));
    } else {
#pragma GCC unroll 1
      for (int c = 0; c < 4; ++c) {
        __m512i alo[R], ahi[R];
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) alo[r] = ahi[r] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int l4 = 0; l4 < 8; ++l4) {
          __m512i lo, hi;
          q45_unpack<Q5>(t, c, l4, &lo, &hi);
#pragma GCC unroll 4
          for (int r = 0; r < R; ++r) {
            const int8_t* xq = a.q + (r0 + r) * k + 256 * b + 64 * c + 4 * l4;
            alo[r] = dp(alo[r], lo, xq);
            ahi[r] = dp(ahi[r], hi, xq + 32);
          }
        }
        const __m512i sc_lo = lanes_u8(t + 64 + 16 * (2 * c)), sc_hi = lanes_u8(t + 64 + 16 * (2 * c + 1));
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r)
          S[r] = _mm512_add_epi32(S[r], _mm512_add_epi32(_mm512_mullo_epi32(alo[r], sc_lo), _mm512_mullo_epi32(ahi[r], sc_hi)));
      }
    }
    const __m512 dv = load_f16x16(t), mv = load_f16x16(t + 32);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m512 dx = _mm512_set1_ps(a.d[(r0 + r) * nb + b]);
      F[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(S[r]), _mm512_mul_ps(dv, dx), F[r]);
      G[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(M[r]), _mm512_mul_ps(mv, dx), G[r]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(y + (r0 + r) * ldy + 16 * g, _mm512_sub_ps(F[r], G[r]));
}

template <int R>
void q4_k_rows(const PackedMatrix& m, const PackedActs& a, int64_t r0, int64_t g, float* y, int64_t ldy) {
  q45_k_rows<R, false>(m, a, r0, g, y, ldy);
}
template <int R>
void q5_k_rows(const PackedMatrix& m, const PackedActs& a, int64_t r0, int64_t g, float* y, int64_t ldy) {
  q45_k_rows<R, true>(m, a, r0, g, y, ldy);
}

// ---- Q6_K: 16 groups of 16 with signed 8-bit scales, values 0..63 offset by 32 -------------------
//   S_b = sum_g sc_g * dot_g - 32 * sum_g sc_g * sum(x over group g)

// S[r] += sc_g * dot_g over the groups g = 8h + 2i + half (i = 0..3) of Q6_K block b: positions
// 128h + 32i + l, l in [16 half, 16 half + 16).
inline __m512i q6_scale(const uint8_t* t, int h, int i, int half) {
  // scale of group 8h + 2i + half: pair 4h + i, int16 half `half` of each lane
  const __m512i scp = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + 32 + 32 * (4 * h + i))));
  return half ? _mm512_srai_epi32(scp, 16) : _mm512_srai_epi32(_mm512_slli_epi32(scp, 16), 16);
}

template <int R>
inline void q6_k_quarter_all(const uint8_t* t, const PackedActs& a, int64_t r0, int64_t b, int h, int half, __m512i* S) {
  const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
  __m512i acc[4][R];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i)
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) acc[i][r] = _mm512_setzero_si512();
#pragma GCC unroll 4
  for (int l4 = 4 * half; l4 < 4 * half + 4; ++l4) {
    const uint8_t* base = t + 288 + (h * 8 + l4) * 192;
    const __m512i p0 = load(base), p1 = load(base + 64), p2 = load(base + 128);
    __m512i v[4];
    v[0] = _mm512_or_si512(_mm512_and_si512(p0, m4), _mm512_and_si512(_mm512_slli_epi16(p2, 4), m30));
    v[1] = _mm512_or_si512(_mm512_and_si512(p1, m4), _mm512_and_si512(_mm512_slli_epi16(p2, 2), m30));
    v[2] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(p0, 4), m4), _mm512_and_si512(p2, m30));
    v[3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(p1, 4), m4),
                           _mm512_and_si512(_mm512_srli_epi16(p2, 2), m30));
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const int8_t* xq = a.q + (r0 + r) * a.k + 256 * b + 128 * h + 4 * l4;
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) acc[i][r] = dp(acc[i][r], v[i], xq + 32 * i);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    const __m512i sc = q6_scale(t, h, i, half);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) S[r] = _mm512_add_epi32(S[r], _mm512_mullo_epi32(acc[i][r], sc));
  }
}

// The same for groups i = src and src + 2 only (their low 4 bits come from ql0 when src = 0, ql1
// when src = 1).
template <int R, int src>
inline void q6_k_quarter_pair(const uint8_t* t, const PackedActs& a, int64_t r0, int64_t b, int h, int half, __m512i* S) {
  const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
  __m512i acc[2][R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[0][r] = acc[1][r] = _mm512_setzero_si512();
#pragma GCC unroll 4
  for (int l4 = 4 * half; l4 < 4 * half + 4; ++l4) {
    const uint8_t* base = t + 288 + (h * 8 + l4) * 192;
    const __m512i p = load(base + 64 * src), p2 = load(base + 128);
    const __m512i va = _mm512_or_si512(_mm512_and_si512(p, m4), _mm512_and_si512(_mm512_slli_epi16(p2, 4 - 2 * src), m30));
    const __m512i vb = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(p, 4), m4),
                                       _mm512_and_si512(_mm512_srli_epi16(p2, 2 * src), m30));
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const int8_t* xq = a.q + (r0 + r) * a.k + 256 * b + 128 * h + 4 * l4;
      acc[0][r] = dp(acc[0][r], va, xq + 32 * src);
      acc[1][r] = dp(acc[1][r], vb, xq + 32 * (src + 2));
    }
  }
  const __m512i sa = q6_scale(t, h, src, half), sb = q6_scale(t, h, src + 2, half);
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
    S[r] = _mm512_add_epi32(S[r], _mm512_add_epi32(_mm512_mullo_epi32(acc[0][r], sa), _mm512_mullo_epi32(acc[1][r], sb)));
}

template <int R>
void q6_k_rows(const PackedMatrix& m, const PackedActs& a, int64_t r0, int64_t g, float* y, int64_t ldy) {
  const int64_t nb = m.blocks, k = a.k;
  __m512 F[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) F[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* t = m.tile(g, b);
    prefetch_ahead(t, m.tile_bytes, r0);
    __m512i S[R];
    {
      __m512i O[R];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) O[r] = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int p = 0; p < 8; ++p) {
        const __m512i scp = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + 32 + 32 * p)));
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r)
          O[r] = _mm512_add_epi32(O[r], _mm512_madd_epi16(scp, bcast32(a.s + (r0 + r) * (k / 16) + 16 * b + 2 * p)));
      }
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) S[r] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(O[r], 5));
    }
#pragma GCC unroll 1
    for (int h = 0; h < 2; ++h) {
#pragma GCC unroll 2
      for (int half = 0; half < 2; ++half) {
        if constexpr (R <= 2) {
          q6_k_quarter_all<R>(t, a, r0, b, h, half, S);
        } else {  // 4 rows: two passes (groups i = 0, 2 from ql0, then 1, 3 from ql1) keep the
                  // accumulators in registers
          q6_k_quarter_pair<R, 0>(t, a, r0, b, h, half, S);
          q6_k_quarter_pair<R, 1>(t, a, r0, b, h, half, S);
        }
      }
    }
    const __m512 dv = load_f16x16(t);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
      F[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(S[r]), _mm512_mul_ps(dv, _mm512_set1_ps(a.d[(r0 + r) * nb + b])), F[r]);
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(y + (r0 + r) * ldy + 16 * g, F[r]);
}

// ---- the row loop --------------------------------------------------------------------------------

using RowsFn = void (*)(const PackedMatrix&, const PackedActs&, int64_t, int64_t, float*, int64_t);

template <RowsFn R4, RowsFn R3, RowsFn R2, RowsFn R1>
void packed_rows(const PackedMatrix& m, const PackedActs& a, int64_t n, int64_t g0, int64_t g1, float* y,
                 int64_t ldy) {
  for (int64_t g = g0; g < g1; ++g) {
    int64_t r = 0;
    for (; r + 4 <= n; r += 4) R4(m, a, r, g, y, ldy);
    switch (n - r) {
      case 3: R3(m, a, r, g, y, ldy); break;
      case 2: R2(m, a, r, g, y, ldy); break;
      case 1: R1(m, a, r, g, y, ldy); break;
      default: break;
    }
  }
}

#define AX_PACKED(name) packed_rows<name<4>, name<3>, name<2>, name<1>>

}  // namespace

const PackedKernels* table() {
  static const PackedKernels t{AX_PACKED(q8_0_rows), AX_PACKED(q4_0_rows), AX_PACKED(q4_k_rows),
                               AX_PACKED(q5_k_rows), AX_PACKED(q6_k_rows)};
  return &t;
}
#undef AX_PACKED

}  // namespace ax::cpu::kernels::packed_avx512

#pragma GCC diagnostic pop
#pragma GCC pop_options

namespace ax::cpu::kernels {
const PackedKernels* packed_kernels() {
  static const PackedKernels* k = cpu_features().has_avx512_tier() ? packed_avx512::table() : nullptr;
  return k;
}
}  // namespace ax::cpu::kernels
