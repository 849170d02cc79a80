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

#include "backend/cpu/kernels/packed_kernels.h"

#pragma GCC push_options
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own undefined-vector helpers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")

namespace ax::cpu::kernels::packed_avx512 {
namespace {

#include "backend/cpu/kernels/packed_avx512_blocks.inc"

// Software prefetch, spread over the kernel: each step that reads a line of a tile prefetches the
// line `distance` bytes further on (about two tiles, at least 4 KB: the tile layouts are read in
// address order), so one prefetch goes out per line read, at the pace the kernel reads. Kernels
// that take several rows prefetch only on the first pass over a group (r0 == 0): later row chunks
// find the tiles in cache. Measured against
// prefetching a whole tile at once at the start of each tile (one thread of 2, same minute): Q5_K
// matvec 30 -> 70-80 GB/s, Q6_K 42 -> 45 (3072 x 1024: 48 -> 66), Q4_K 71 -> 77. The burst of 37-53
// prefetches per tile held up the kernel's own loads.
inline size_t prefetch_distance(size_t tile_bytes) {  // whole tiles: the same offset in a later tile
  return tile_bytes * 2 > 4096 ? tile_bytes * 2 : (4096 + tile_bytes - 1) / tile_bytes * tile_bytes;
}
inline void prefetch_line(const uint8_t* p, size_t distance) {
  _mm_prefetch(reinterpret_cast<const char*>(p) + distance, _MM_HINT_T0);
}
// The lines of [p, p + bytes), `distance` ahead.
inline void prefetch_range(const uint8_t* p, size_t bytes, size_t distance) {
  for (size_t o = 0; o < bytes; o += 64) prefetch_line(p + o, distance);
}

// ---- Q8_0 / Q4_0 / MXFP4: blocks of 32, S = dot - offset * sum(x) ---------------------------------

// The value + 12 of each MXFP4 code (0..24, unsigned for vpdpbusd), once per 128-bit lane (vpshufb
// looks up within lanes).
alignas(64) constexpr int8_t kMxfp4Plus12[64] = {
    12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0, 12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0,
    12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0, 12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0};

// Step s (0..3) of a 32-value block: two weight vectors and where their 4-value activation groups
// start. Q8_0: 8 vectors of stored bytes (+128), two per step. Q4_0: 4 vectors, each split into the
// low nibbles (values 4s..4s+3) and the high ones (values 16+4s..). MXFP4: as Q4_0 (after its
// 16-byte head), each code looked up as its value + 12.
template <DType T>
inline void q32_step(const uint8_t* t, int s, __m512i* w0, __m512i* w1, int* o0, int* o1) {
  if constexpr (T == DType::Q8_0) {
    *w0 = load(t + 32 + 64 * (2 * s));
    *w1 = load(t + 32 + 64 * (2 * s + 1));
    *o0 = 8 * s;
    *o1 = 8 * s + 4;
  } else {
    const __m512i w = load(t + (T == DType::MXFP4 ? 16 : 32) + 64 * s);
    *w0 = low4(w);
    *w1 = high4(w);
    if constexpr (T == DType::MXFP4) {
      const __m512i table = _mm512_load_si512(kMxfp4Plus12);
      *w0 = _mm512_shuffle_epi8(table, *w0);
      *w1 = _mm512_shuffle_epi8(table, *w1);
    }
    *o0 = 4 * s;
    *o1 = 16 + 4 * s;
  }
}

// The 16 lanes' weight scales of a tile: f16 d (Q8_0, Q4_0) or 2^(e - 128) from the exponent bytes
// (MXFP4; vscalefps gives the subnormals of e < 2 too).
template <DType T>
inline __m512 q32_scales(const uint8_t* t) {
  if constexpr (T == DType::MXFP4) {
    return _mm512_scalef_ps(_mm512_set1_ps(1.0f), _mm512_cvtepi32_ps(_mm512_sub_epi32(lanes_u8(t), _mm512_set1_epi32(128))));
  } else {
    return load_f16x16(t);
  }
}

// S = dot(stored unsigned values, x) - offset * sum(x): offset 128 for Q8_0 (stored q + 128), 8 for
// Q4_0 (x = d (q - 8)), 12 for MXFP4 (looked up as value + 12).
template <int R, DType T>
void q32_rows(const PackedMatrix& m, const PackedActs& a, int64_t r0, int64_t g, float* y, int64_t ldy) {
  constexpr int kOffset = T == DType::Q8_0 ? 128 : T == DType::Q4_0 ? 8 : 12;
  const int64_t nb = m.blocks, k = a.k;
  __m512 F[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) F[r] = _mm512_setzero_ps();
  const size_t dist = prefetch_distance(m.tile_bytes);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* t = m.tile(g, b);
    // Small tiles (9 or 5 lines): the whole tile at once measured 2-4 % faster than spread out.
    if (r0 == 0) prefetch_range(t, m.tile_bytes, dist);
    const __m512 dw = q32_scales<T>(t);
    __m512i a0[R], a1[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) a0[r] = a1[r] = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int step = 0; step < 4; ++step) {
      __m512i w0, w1;
      int o0, o1;
      q32_step<T>(t, step, &w0, &w1, &o0, &o1);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const int8_t* xq = a.q + (r0 + r) * k + 32 * b;
        a0[r] = dp(a0[r], w0, xq + o0);
        a1[r] = dp(a1[r], w1, xq + o1);
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const int64_t row = r0 + r;
      const __m512i s = _mm512_sub_epi32(_mm512_add_epi32(a0[r], a1[r]), _mm512_set1_epi32(kOffset * a.s[row * nb + b]));
      F[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, _mm512_set1_ps(a.d[row * nb + b])), F[r]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(y + (r0 + r) * ldy + 16 * g, F[r]);
}

template <int R>
void q8_0_rows(const PackedMatrix& m, const PackedActs& a, int64_t r0, int64_t g, float* y, int64_t ldy) {
  q32_rows<R, DType::Q8_0>(m, a, r0, g, y, ldy);
}
template <int R>
void q4_0_rows(const PackedMatrix& m, const PackedActs& a, int64_t r0, int64_t g, float* y, int64_t ldy) {
  q32_rows<R, DType::Q4_0>(m, a, r0, g, y, ldy);
}
template <int R>
void mxfp4_rows(const PackedMatrix& m, const PackedActs& a, int64_t r0, int64_t g, float* y, int64_t ldy) {
  q32_rows<R, DType::MXFP4>(m, a, r0, g, y, ldy);
}

// ---- Q4_K / Q5_K (the block terms in packed_avx512_blocks.inc) -----------------------------------

// One activation row: all 8 sub-blocks accumulate side by side (8 independent vpdpbusd chains), the
// tile read front to back.
template <bool Q5>
void q45_k_row(const PackedMatrix& m, const PackedActs& a, int64_t r0, int64_t g, float* y, int64_t ldy) {
  const int64_t nb = m.blocks, k = a.k;
  __m512 F = _mm512_setzero_ps(), G = _mm512_setzero_ps();
  const size_t dist = prefetch_distance(m.tile_bytes);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* t = m.tile(g, b);
    prefetch_range(t, 320, dist);  // d, dmin, scales, mins
    const int8_t* xq = a.q + r0 * k + 256 * b;
    __m512i acc[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) acc[j] = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int l4 = 0; l4 < 8; ++l4) {
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) {
        __m512i lo, hi;
        prefetch_line(q45_qs<Q5>(t, l4, c), dist);
        if (Q5 && c == 0) prefetch_line(q5_qh(t, l4), dist);  // the 5th bits
        q45_unpack<Q5>(t, c, l4, &lo, &hi);
        acc[2 * c] = dp(acc[2 * c], lo, xq + 64 * c + 4 * l4);
        acc[2 * c + 1] = dp(acc[2 * c + 1], hi, xq + 64 * c + 32 + 4 * l4);
      }
    }
    __m512i S = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) S = q45_scaled<Q5>(S, t, c, acc[2 * c], acc[2 * c + 1]);
    q45_float_step(t, a.d[r0 * nb + b], S, q45_mins(t, a.s32 + r0 * (k / 32) + 8 * b), &F, &G);
  }
  _mm512_storeu_ps(y + r0 * ldy + 16 * g, _mm512_sub_ps(F, G));
}

// R activation rows (2..4) against one group: one unpacked weight vector feeds R rows.
template <int R, bool Q5>
void q45_k_rows(const PackedMatrix& m, const PackedActs& a, int64_t r0, int64_t g, float* y, int64_t ldy) {
  if constexpr (R == 1) {
    q45_k_row<Q5>(m, a, r0, g, y, ldy);
  } else {
    const int64_t nb = m.blocks, k = a.k;
    __m512 F[R], G[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) F[r] = G[r] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* t = m.tile(g, b);
      __m512i S[R];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) S[r] = _mm512_setzero_si512();
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
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) S[r] = q45_scaled<Q5>(S[r], t, c, alo[r], ahi[r]);
      }
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r)
        q45_float_step(t, a.d[(r0 + r) * nb + b], S[r], q45_mins(t, a.s32 + (r0 + r) * (k / 32) + 8 * b), &F[r], &G[r]);
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) _mm512_storeu_ps(y + (r0 + r) * ldy + 16 * g, _mm512_sub_ps(F[r], G[r]));
  }
}

template <int R>
void q4_k_rows(const PackedMatrix& m, const PackedActs& a, int64_t r0, int64_t g, float* y, int64_t ldy) {
  q45_k_rows<R, false>(m, a, r0, g, y, ldy);
}
template <int R>
void q5_k_rows(const PackedMatrix& m, const PackedActs& a, int64_t r0, int64_t g, float* y, int64_t ldy) {
  q45_k_rows<R, true>(m, a, r0, g, y, ldy);
}

// ---- Q6_K (the block terms in packed_avx512_blocks.inc) -------------------------------------------

// S[r] += sc_g * dot_g for the groups of values I0 and I1 (i in 0..3) in quarter (h, half), R rows.
template <int R, int I0, int I1>
inline void q6_k_quarter(const uint8_t* t, const PackedActs& a, int64_t r0, int64_t b, int h, int half, __m512i* S) {
  __m512i acc[2][R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[0][r] = acc[1][r] = _mm512_setzero_si512();
#pragma GCC unroll 4
  for (int l4 = 4 * half; l4 < 4 * half + 4; ++l4) {
    const uint8_t* base = q6_base(t, h, l4);
    const __m512i va = q6_value<I0>(base), vb = q6_value<I1>(base);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const int8_t* xq = a.q + (r0 + r) * a.k + 256 * b + 128 * h + 4 * l4;
      acc[0][r] = dp(acc[0][r], va, xq + 32 * I0);
      acc[1][r] = dp(acc[1][r], vb, xq + 32 * I1);
    }
  }
  const __m512i sa = q6_scale(t, h, I0, half), sb = q6_scale(t, h, I1, half);
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
    S[r] = _mm512_add_epi32(S[r], _mm512_add_epi32(_mm512_mullo_epi32(acc[0][r], sa), _mm512_mullo_epi32(acc[1][r], sb)));
}

// R activation rows (2..4) against one group.
template <int R>
void q6_k_rows_multi(const PackedMatrix& m, const PackedActs& a, int64_t r0, int64_t g, float* y, int64_t ldy) {
  const int64_t nb = m.blocks, k = a.k;
  __m512 F[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) F[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* t = m.tile(g, b);
    __m512i S[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) S[r] = q6_offset(t, a.s + (r0 + r) * (k / 16) + 16 * b);
#pragma GCC unroll 1
    for (int h = 0; h < 2; ++h) {
#pragma GCC unroll 2
      for (int half = 0; half < 2; ++half) {
        q6_k_quarter<R, 0, 1>(t, a, r0, b, h, half, S);
        q6_k_quarter<R, 2, 3>(t, a, r0, b, h, half, S);
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

// One activation row: per quarter (h, half) of a block, 4 independent vpdpbusd chains.
void q6_k_row(const PackedMatrix& m, const PackedActs& a, int64_t r0, int64_t g, float* y, int64_t ldy) {
  const int64_t nb = m.blocks, k = a.k;
  __m512 F = _mm512_setzero_ps();
  const size_t dist = prefetch_distance(m.tile_bytes);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* t = m.tile(g, b);
    prefetch_range(t, 288, dist);  // d and the scales
    __m512i S = q6_offset(t, a.s + r0 * (k / 16) + 16 * b);
#pragma GCC unroll 1
    for (int h = 0; h < 2; ++h) {
#pragma GCC unroll 2
      for (int half = 0; half < 2; ++half) {
        __m512i acc[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) acc[i] = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int l4 = 4 * half; l4 < 4 * half + 4; ++l4) {
          const int8_t* xq = a.q + r0 * k + 256 * b + 128 * h + 4 * l4;
          const uint8_t* base = q6_base(t, h, l4);
          prefetch_range(base, 192, dist);
          acc[0] = dp(acc[0], q6_value<0>(base), xq);
          acc[1] = dp(acc[1], q6_value<1>(base), xq + 32);
          acc[2] = dp(acc[2], q6_value<2>(base), xq + 64);
          acc[3] = dp(acc[3], q6_value<3>(base), xq + 96);
        }
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) S = _mm512_add_epi32(S, _mm512_mullo_epi32(acc[i], q6_scale(t, h, i, half)));
      }
    }
    F = _mm512_fmadd_ps(_mm512_cvtepi32_ps(S), _mm512_mul_ps(load_f16x16(t), _mm512_set1_ps(a.d[r0 * nb + b])), F);
  }
  _mm512_storeu_ps(y + r0 * ldy + 16 * g, F);
}

template <int R>
void q6_k_rows(const PackedMatrix& m, const PackedActs& a, int64_t r0, int64_t g, float* y, int64_t ldy) {
  if constexpr (R == 1) {
    q6_k_row(m, a, r0, g, y, ldy);
  } else {
    q6_k_rows_multi<R>(m, a, r0, g, y, ldy);
  }
}

// ---- float weights (F32, F16, BF16): blocks of 32 values, x stays float32 ----------------------------
// Per lane, four partial sums: P_j takes the values k = j (mod 4) in order (one fma each);
// y = (P_0 + P_1) + (P_2 + P_3).

template <DType T>
inline __m512 load_w16(const uint8_t* p) {
  if constexpr (T == DType::F32) {
    return _mm512_loadu_ps(p);
  } else if constexpr (T == DType::F16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  } else {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
  }
}
template <DType T>
constexpr int kElem = T == DType::F32 ? 4 : 2;

// R rows x NG groups; 4 * R * NG accumulators (NG = 2, R = 3 for many rows: each weight vector
// feeds 3 rows, each activation broadcast 2 groups).
template <DType T, int R, int NG = 1>
void float_tile_rows(const PackedMatrix& m, const PackedActs& a, int64_t r0, int64_t g, float* y, int64_t ldy) {
  const int64_t nb = m.blocks, k = a.k;
  __m512 P[NG][R][4];
#pragma GCC unroll 2
  for (int q = 0; q < NG; ++q)
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) P[q][r][0] = P[q][r][1] = P[q][r][2] = P[q][r][3] = _mm512_setzero_ps();
  const size_t dist = prefetch_distance(m.tile_bytes);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* t[NG];
#pragma GCC unroll 2
    for (int q = 0; q < NG; ++q) t[q] = m.tile(g + q, b);
#pragma GCC unroll 2
    for (int k4 = 0; k4 < 32; k4 += 4) {
      if (r0 == 0)
#pragma GCC unroll 2
        for (int q = 0; q < NG; ++q) prefetch_range(t[q] + k4 * 16 * kElem<T>, 4 * 16 * kElem<T>, dist);
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        __m512 w[NG];
#pragma GCC unroll 2
        for (int q = 0; q < NG; ++q) w[q] = load_w16<T>(t[q] + (k4 + j) * 16 * kElem<T>);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const __m512 xv = _mm512_set1_ps(a.x[(r0 + r) * k + 32 * b + k4 + j]);
#pragma GCC unroll 2
          for (int q = 0; q < NG; ++q) P[q][r][j] = _mm512_fmadd_ps(w[q], xv, P[q][r][j]);
        }
      }
    }
  }
#pragma GCC unroll 2
  for (int q = 0; q < NG; ++q)
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
      _mm512_storeu_ps(y + (r0 + r) * ldy + 16 * (g + q),
                       _mm512_add_ps(_mm512_add_ps(P[q][r][0], P[q][r][1]), _mm512_add_ps(P[q][r][2], P[q][r][3])));
}

// The row loop for float weights. Up to kPairRows rows read one group at a time, front to back
// (still bound by streaming the weights, and two groups side by side are two streams, which the
// hardware prefetchers serve poorly); more rows are bound by the multiply-adds and take pairs of
// groups in 3-row tiles (each weight vector feeds 3 rows, each activation broadcast 2 groups).
constexpr int64_t kPairRows = 12;

template <DType T>
void float_rows(const PackedMatrix& m, const PackedActs& a, int64_t n, int64_t g0, int64_t g1, float* y, int64_t ldy) {
  int64_t g = g0;
  if (n >= kPairRows)
    for (; g + 2 <= g1; g += 2) {
      int64_t r = 0;
      for (; r + 3 <= n; r += 3) float_tile_rows<T, 3, 2>(m, a, r, g, y, ldy);
      if (n - r == 2) float_tile_rows<T, 2, 2>(m, a, r, g, y, ldy);
      if (n - r == 1) float_tile_rows<T, 1, 2>(m, a, r, g, y, ldy);
    }
  for (; g < g1; ++g) {
    int64_t r = 0;
    for (; r + 4 <= n; r += 4) float_tile_rows<T, 4>(m, a, r, g, y, ldy);
    switch (n - r) {
      case 3: float_tile_rows<T, 3>(m, a, r, g, y, ldy); break;
      case 2: float_tile_rows<T, 2>(m, a, r, g, y, ldy); break;
      case 1: float_tile_rows<T, 1>(m, a, r, g, y, ldy); break;
      default: break;
    }
  }
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
                               AX_PACKED(q5_k_rows), AX_PACKED(q6_k_rows),
                               float_rows<DType::F32>, float_rows<DType::F16>, float_rows<DType::BF16>,
                               AX_PACKED(mxfp4_rows)};
  return &t;
}
#undef AX_PACKED

}  // namespace ax::cpu::kernels::packed_avx512

#pragma GCC diagnostic pop
#pragma GCC pop_options

namespace ax::cpu::kernels {
const PackedKernels* packed_avx512_table() { return packed_avx512::table(); }
}  // namespace ax::cpu::kernels
