// The K-quant packed kernels (Q4_K, Q5_K, Q6_K) on AMX int8 tiles (Intel Sapphire Rapids and
// later), for calls of 32 or more activation rows (prefill, big batches); the rest of a call, and
// every other type, stays on the VNNI kernels (packed_avx512.cpp).
//
// Bit for bit the arithmetic of the VNNI kernels. A block's integer sum S_b = sum_j sc_j * dot_j is
// one dot product of x with the weights times their sub-block scales, W = q * sc; split into bytes
// (W = W_lo + 128 * W_hi, below), it is two tdpbssd sums over the whole block, exact in int32. The
// offsets, mins and the one float step per block then run on zmm with the VNNI kernels' own helpers
// (packed_avx512_blocks.inc). So a row's output is the same whether its call went through AMX or
// VNNI, and batch invariance holds.
//
// The packed tile is already in the form tdpbssd reads for its second operand ([k/4][16 lanes][4]
// bytes): per 16-row weight group the blocks are folded once into W_lo/W_hi byte tiles, then every
// 32 activation rows (two A tiles) run over all blocks against them.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels/packed_kernels.h"

#pragma GCC push_options
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,amx-tile,amx-int8")

namespace ax::cpu::kernels::packed_amx {
namespace {

#include "backend/cpu/kernels/packed_avx512_blocks.inc"

// Tiles (the tile intrinsics take literal register numbers): per 32 activation rows (two chunks of
// 16) and 64 values: tmm0..3 = the int32 sums C_lo, C_hi of chunk 0 and of chunk 1; tmm4, tmm5 =
// the chunks' bytes (16 rows x 64); tmm6, tmm7 = the weight bytes W_lo, W_hi (16 rows of [16 lanes]
// [4 values]).
struct alignas(64) TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

void configure_tiles() {
  TileConfig c;
  for (int t = 0; t < 8; ++t) c.rows[t] = 16, c.colsb[t] = 64;
  // Not _tile_loadconfig: GCC 12's tells the compiler it reads 8 bytes, and the stores of rows and
  // colsb were dropped as dead (the first tile load then faulted). This operand is the whole struct.
  asm volatile("ldtilecfg %0" : : "m"(c));
}

// ---- the weights with their sub-block scales folded in ------------------------------------------
// A K-quant block's S_b = sum_j sc_j * dot_j over its sub-blocks is one dot product of x with
// W = q * sc (per value; q 0..31 with sc 0..63 for Q4_K/Q5_K, q 0..63 with sc -128..127 for Q6_K:
// |W| < 2^13). W does not fit a byte, so it is split as W = W_lo + 128 * W_hi (W_lo = 0..127, W_hi =
// -64..63, both signed bytes) and S_b = dot(x, W_lo) + 128 * dot(x, W_hi): two tile sums over the
// whole block, exact in int32, instead of a sum and a scaling per sub-block.

// The byte tiles of one block: [4 steps of 64 values][lo, hi][16 rows][64 B]: 8 KB.
constexpr int64_t kStepBytes = 2 * 1024, kBlockBytes = 4 * kStepBytes;

// Writes W_lo, W_hi of 64 bytes of values q (row r of step s: 4 values per lane) with per-lane scale
// bytes sc (each lane's byte repeated 4 times; signed for Q6_K).
template <bool kSignedScale>
inline void put_scaled(__m512i q, __m512i sc, uint8_t* step, int r) {
  const __m512i lo8 = _mm512_set1_epi16(0x00ff), m7 = _mm512_set1_epi16(0x7f);
  const __m512i q_even = _mm512_and_si512(q, lo8), q_odd = _mm512_srli_epi16(q, 8);
  const __m512i s_even = kSignedScale ? _mm512_srai_epi16(_mm512_slli_epi16(sc, 8), 8) : _mm512_and_si512(sc, lo8);
  const __m512i s_odd = kSignedScale ? _mm512_srai_epi16(sc, 8) : _mm512_srli_epi16(sc, 8);
  const __m512i p_even = _mm512_mullo_epi16(q_even, s_even), p_odd = _mm512_mullo_epi16(q_odd, s_odd);
  const __m512i w_lo = _mm512_or_si512(_mm512_and_si512(p_even, m7), _mm512_slli_epi16(_mm512_and_si512(p_odd, m7), 8));
  const __m512i w_hi = _mm512_or_si512(_mm512_and_si512(_mm512_srai_epi16(p_even, 7), lo8),
                                       _mm512_slli_epi16(_mm512_srai_epi16(p_odd, 7), 8));
  _mm512_storeu_si512(step + 64 * r, w_lo);
  _mm512_storeu_si512(step + 1024 + 64 * r, w_hi);
}
// An int32 lane vector of scales (each fits a byte) as its bytes repeated 4 times per lane.
inline __m512i scale_bytes(__m512i sc32) {
  return _mm512_mullo_epi32(_mm512_and_si512(sc32, _mm512_set1_epi32(0xff)), _mm512_set1_epi32(0x01010101));
}

// ---- the formats: folding, and the steps around the dot product (each mirrors the VNNI kernel) ----
// S of an activation row starts at init() (offset terms), gains the tile sums, and takes the float
// step; result() is the output lane vector.

template <bool Q5>  // Q4_K or Q5_K: step s = chunk c (sub-blocks 2c, 2c + 1); rows 0..7 lo, 8..15 hi
struct Q45 {
  static void fold(const uint8_t* t, uint8_t* dst) {
    for (int c = 0; c < 4; ++c) {
      const __m512i sc_lo = scale_bytes(lanes_u8(t + 64 + 16 * (2 * c)));
      const __m512i sc_hi = scale_bytes(lanes_u8(t + 64 + 16 * (2 * c + 1)));
      for (int l4 = 0; l4 < 8; ++l4) {
        __m512i lo, hi;
        if (Q5) {
          q45_unpack<true>(t, c, l4, &lo, &hi);
        } else {  // the true high nibble (the VNNI kernel keeps 16 x value and shifts its sum back)
          const __m512i w = load(q45_qs<false>(t, l4, c));
          lo = low4(w);
          hi = high4(w);
        }
        put_scaled<false>(lo, sc_lo, dst + c * kStepBytes, l4);
        put_scaled<false>(hi, sc_hi, dst + c * kStepBytes, 8 + l4);
      }
    }
  }
  static __m512i init(const uint8_t*, const PackedActs&, int64_t, int64_t) { return _mm512_setzero_si512(); }
  static void float_step(const uint8_t* t, const PackedActs& a, int64_t row, int64_t b, __m512i S, __m512* F, __m512* G) {
    q45_float_step(t, a.d[row * (a.k / 256) + b], S, q45_mins(t, a.s32 + row * (a.k / 32) + 8 * b), F, G);
  }
  static __m512 result(__m512 F, __m512 G) { return _mm512_sub_ps(F, G); }
};

struct Q6 {  // step s = values 64s..: half h = s / 2, planes I = 2 (s % 2) (rows 0..7) and + 1 (8..15)
  template <int I>
  static void put(const uint8_t* t, int h, int l4, uint8_t* dst) {
    put_scaled<true>(q6_value<I>(q6_base(t, h, l4)), scale_bytes(q6_scale(t, h, I, l4 / 4)),
                     dst + (2 * h + I / 2) * kStepBytes, 8 * (I % 2) + l4);
  }
  static void fold(const uint8_t* t, uint8_t* dst) {
    for (int h = 0; h < 2; ++h)
      for (int l4 = 0; l4 < 8; ++l4) {
        put<0>(t, h, l4, dst);
        put<1>(t, h, l4, dst);
        put<2>(t, h, l4, dst);
        put<3>(t, h, l4, dst);
      }
  }
  static __m512i init(const uint8_t* t, const PackedActs& a, int64_t row, int64_t b) {
    return q6_offset(t, a.s + row * (a.k / 16) + 16 * b);
  }
  static void float_step(const uint8_t* t, const PackedActs& a, int64_t row, int64_t b, __m512i S, __m512* F, __m512*) {
    *F = _mm512_fmadd_ps(_mm512_cvtepi32_ps(S), _mm512_mul_ps(load_f16x16(t), _mm512_set1_ps(a.d[row * (a.k / 256) + b])), *F);
  }
  static __m512 result(__m512 F, __m512) { return F; }
};

// Rows [r, n) of K-quant activations as a call of their own (for the VNNI kernel).
PackedActs rows_from(const PackedActs& a, int64_t r) {
  PackedActs o = a;
  o.q += r * a.k;
  o.d += r * (a.k / 256);
  o.s += r * (a.k / 16);
  o.s32 += r * (a.k / 32);
  return o;
}

// 32 activation rows from r0 against group g, all blocks; wb holds the group's folded byte tiles.
template <class Fmt>
void chunk(const PackedMatrix& m, const PackedActs& a, int64_t r0, int64_t g, const uint8_t* wb, float* y,
           int64_t ldy) {
  alignas(64) int32_t c[4][16][16];  // C_lo, C_hi of rows r0.., then of rows r0 + 16..
  __m512 F[32], G[32];
  for (int r = 0; r < 32; ++r) F[r] = G[r] = _mm512_setzero_ps();
  const int8_t* q0 = a.q + r0 * a.k;
  const int8_t* q1 = q0 + 16 * a.k;
  for (int64_t b = 0; b < m.blocks; ++b) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int s = 0; s < 4; ++s) {
      const uint8_t* step = wb + b * kBlockBytes + s * kStepBytes;
      _tile_loadd(6, step, 64);         // W_lo
      _tile_loadd(7, step + 1024, 64);  // W_hi
      _tile_loadd(4, q0 + 256 * b + 64 * s, a.k);
      _tile_loadd(5, q1 + 256 * b + 64 * s, a.k);
      _tile_dpbssd(0, 4, 6);
      _tile_dpbssd(1, 4, 7);
      _tile_dpbssd(2, 5, 6);
      _tile_dpbssd(3, 5, 7);
    }
    _tile_stored(0, c[0], 64);
    _tile_stored(1, c[1], 64);
    _tile_stored(2, c[2], 64);
    _tile_stored(3, c[3], 64);
    const uint8_t* t = m.tile(g, b);
    for (int r = 0; r < 32; ++r) {
      const int h = r / 16, i = r % 16;
      const __m512i lo = _mm512_load_si512(c[2 * h][i]), hi = _mm512_load_si512(c[2 * h + 1][i]);
      const __m512i S = _mm512_add_epi32(Fmt::init(t, a, r0 + r, b), _mm512_add_epi32(lo, _mm512_slli_epi32(hi, 7)));
      Fmt::float_step(t, a, r0 + r, b, S, &F[r], &G[r]);
    }
  }
  for (int r = 0; r < 32; ++r) _mm512_storeu_ps(y + (r0 + r) * ldy + 16 * g, Fmt::result(F[r], G[r]));
}

// Rows in whole 32-row chunks go through AMX; the rest through the VNNI kernel. Each group's blocks
// are folded once (8 KB each) and every chunk of rows runs over all of them. (Going a few blocks at
// a time, so that their folded weights stay in L1 across the chunks, measured 10-20 % slower: the
// float accumulators then go through memory between passes.)
template <class Fmt>
void amx_rows(const PackedMatrix& m, const PackedActs& a, int64_t n, int64_t g0, int64_t g1, float* y,
              int64_t ldy, PackedFn vnni) {
  const int64_t n32 = n / 32 * 32;
  if (n32 > 0) {
    thread_local std::vector<uint8_t> wb;
    if (wb.size() < static_cast<size_t>(m.blocks * kBlockBytes)) wb.resize(m.blocks * kBlockBytes);
    configure_tiles();
    for (int64_t g = g0; g < g1; ++g) {
      for (int64_t b = 0; b < m.blocks; ++b) Fmt::fold(m.tile(g, b), wb.data() + b * kBlockBytes);
      for (int64_t r0 = 0; r0 < n32; r0 += 32) chunk<Fmt>(m, a, r0, g, wb.data(), y, ldy);
    }
    _tile_release();
  }
  if (n > n32) vnni(m, rows_from(a, n32), n - n32, g0, g1, y + n32 * ldy, ldy);
}

template <class Fmt, DType T>
void amx_kernel(const PackedMatrix& m, const PackedActs& a, int64_t n, int64_t g0, int64_t g1, float* y, int64_t ldy) {
  amx_rows<Fmt>(m, a, n, g0, g1, y, ldy, packed_avx512_table()->for_dtype(T));
}

}  // namespace

const PackedKernels* table() {
  static const PackedKernels t = [] {
    PackedKernels k = *packed_avx512_table();  // Q8_0, Q4_0, MXFP4 and float weights keep theirs
    k.q4_k = amx_kernel<Q45<false>, DType::Q4_K>;
    k.q5_k = amx_kernel<Q45<true>, DType::Q5_K>;
    k.q6_k = amx_kernel<Q6, DType::Q6_K>;
    return k;
  }();
  return &t;
}

}  // namespace ax::cpu::kernels::packed_amx

#pragma GCC diagnostic pop
#pragma GCC pop_options

namespace ax::cpu::kernels {
const PackedKernels* packed_amx_kernels() {
  static const PackedKernels* k = isa_supported(Isa::Avx512) && amx_usable() ? packed_amx::table() : nullptr;
  return k;
}
}  // namespace ax::cpu::kernels
