// y[n, M] = x[n, K] . W^T on tensor cores (mma.sync m16n8k16, f16 operands, f32 accumulators),
// with W in its device layout (device_layout.h) dequantized to f16 in registers as it is read.
//
// Batch invariance: every output element is computed by the same arithmetic whatever n, the
// kernel variant and the grid:
//   - K is cut into S slices of whole 256-value chunks, fixed by the matrix shape alone
//     (slice_chunks = ceil(chunks / 8));
//   - a slice is one f32 accumulator that takes the mma k-steps of its chunks in ascending order,
//     starting from zero;
//   - the slices are added in order into a total that starts at zero.
// The decode variant runs the slices on separate warps and folds them in shared memory; the
// prefill variant runs them one after the other in each warp. Same numbers either way.
//
// The k order inside a 256-value chunk is permuted so that each lane reads contiguous memory: in
// k-step c (0..15) lane (g = lane / 4, t = lane % 4) holds the mma's k-slots 2t, 2t+1, 2t+8, 2t+9,
// and those slots carry chunk values 64t + 4c + 0..3 (for W and x alike, so the dot product is the
// same sum). Hence lane t reads chunk values [64t, 64t + 64) of its rows.
//
// The decode variant reads float32 x and rounds it to f16 as it goes; the prefill variant has x go to
// f16 once per call in "fragment order" (to_fragments), the same rounding: uint4 number
// ((nb * chunks + ch) * 8 + p) * 32 + lane holds token nb * 8 + g, chunk values 64t + 8p + [0, 8)
// (k-steps 2p and 2p + 1), so every warp load is 512 contiguous bytes.
#include <cuda_fp16.h>

#include "backend/cuda/cuda_common.cuh"
#include "backend/cuda/cuda_kernels.h"

namespace ax::cuda {
namespace {

constexpr int kMaxSlices = 8;

__device__ __forceinline__ void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t h2_bits(__half2 h) { return *reinterpret_cast<uint32_t*>(&h); }
__device__ __forceinline__ __half2 bits_h2(uint32_t u) { return *reinterpret_cast<__half2*>(&u); }

// Bytes 0, 1 (sel 0x4140) or 2, 3 (sel 0x4342) of w, each an integer 0..255, as the f16 pair
// (1024 + b): exact, one instruction.
__device__ __forceinline__ __half2 bytes_1024(uint32_t w, uint32_t sel) { return bits_h2(__byte_perm(w, 0x64646464u, sel)); }

// Four small unsigned integers in the bytes of w as two f16 pairs (q - bias): exact.
__device__ __forceinline__ void unpack4(uint32_t w, __half2 bias, __half2& lo, __half2& hi) {
  lo = __hsub2(bytes_1024(w, 0x4140), bias);
  hi = __hsub2(bytes_1024(w, 0x4342), bias);
}

__device__ __forceinline__ float half_lo(uint32_t w) { return __half2float(__ushort_as_half(static_cast<unsigned short>(w & 0xffffu))); }
__device__ __forceinline__ float half_hi(uint32_t w) { return __half2float(__ushort_as_half(static_cast<unsigned short>(w >> 16))); }

// ---- weight tiles: two rows (g and g + 8 of a 16-row group), one half of a chunk -------------------
// load(row0, row1, ch, h, t): what lane t needs for k-steps 8h .. 8h + 7 of chunk ch.
// a(c, regs): the A fragment of k-step 8h + c: regs[0] = row0 values 0,1; [1] = row1 values 0,1;
// [2] = row0 values 2,3; [3] = row1 values 2,3 (of the lane's four values 64t + 4(8h + c) + 0..3).
template <DevType T>
struct Tile;

template <>
struct Tile<DevType::F16> {
  uint4 v[2][4];  // per row: chunk values 64t + 32h + [0, 32)
  __device__ void load(const uint8_t* r0, const uint8_t* r1, int ch, int h, int t) {
    const uint8_t* rows[2] = {r0, r1};
    for (int r = 0; r < 2; ++r) {
      const uint4* p = reinterpret_cast<const uint4*>(rows[r] + (static_cast<int64_t>(ch) * 256 + 64 * t + 32 * h) * 2);
      for (int i = 0; i < 4; ++i) v[r][i] = __ldg(p + i);
    }
  }
  __device__ void a(int c, uint32_t (&regs)[4]) const {
    const uint4& u0 = v[0][c / 2];
    const uint4& u1 = v[1][c / 2];
    regs[0] = (c & 1) ? u0.z : u0.x;
    regs[2] = (c & 1) ? u0.w : u0.y;
    regs[1] = (c & 1) ? u1.z : u1.x;
    regs[3] = (c & 1) ? u1.w : u1.y;
  }
};

template <>
struct Tile<DevType::Q8_0> {
  uint4 q[2][2];  // per row: 32 int8 values, chunk values 64t + 32h + [0, 32)
  __half2 d[2];
  __device__ void load(const uint8_t* r0, const uint8_t* r1, int64_t kp, int ch, int h, int t) {
    const uint8_t* rows[2] = {r0, r1};
    for (int r = 0; r < 2; ++r) {
      const uint4* p = reinterpret_cast<const uint4*>(rows[r] + static_cast<int64_t>(ch) * 256 + 64 * t + 32 * h);
      q[r][0] = __ldg(p);
      q[r][1] = __ldg(p + 1);
      const __half dh = *reinterpret_cast<const __half*>(rows[r] + kp + 2 * (static_cast<int64_t>(ch) * 8 + 2 * t + h));
      d[r] = __half2half2(dh);
    }
  }
  __device__ void a(int c, uint32_t (&regs)[4]) const {
    const __half2 bias = __floats2half2_rn(1152.0f, 1152.0f);  // 1024 + 128: signed bytes
    for (int r = 0; r < 2; ++r) {
      const uint4& u = q[r][c / 4];
      const uint32_t w = (c % 4 == 0 ? u.x : c % 4 == 1 ? u.y : c % 4 == 2 ? u.z : u.w) ^ 0x80808080u;
      __half2 lo, hi;
      unpack4(w, bias, lo, hi);
      regs[r] = h2_bits(__hmul2(lo, d[r]));
      regs[2 + r] = h2_bits(__hmul2(hi, d[r]));
    }
  }
};

template <>
struct Tile<DevType::Q4_0> {
  uint4 q[2];  // per row: block 2t + h's 16 bytes (values 0..15 low nibbles, 16..31 high)
  __half2 d[2];
  __device__ void load(const uint8_t* r0, const uint8_t* r1, int64_t kp, int ch, int h, int t) {
    const uint8_t* rows[2] = {r0, r1};
    for (int r = 0; r < 2; ++r) {
      const int64_t block = static_cast<int64_t>(ch) * 8 + 2 * t + h;
      q[r] = __ldg(reinterpret_cast<const uint4*>(rows[r] + block * 16));
      d[r] = __half2half2(*reinterpret_cast<const __half*>(rows[r] + kp / 2 + 2 * block));
    }
  }
  __device__ void a(int c, uint32_t (&regs)[4]) const {
    const __half2 bias = __floats2half2_rn(1032.0f, 1032.0f);  // 1024 + 8
    for (int r = 0; r < 2; ++r) {
      const uint4& u = q[r];
      const int word = c % 4;
      uint32_t w = word == 0 ? u.x : word == 1 ? u.y : word == 2 ? u.z : u.w;
      w = ((c >= 4) ? (w >> 4) : w) & 0x0f0f0f0fu;
      __half2 lo, hi;
      unpack4(w, bias, lo, hi);
      regs[r] = h2_bits(__hmul2(lo, d[r]));
      regs[2 + r] = h2_bits(__hmul2(hi, d[r]));
    }
  }
};

template <>
struct Tile<DevType::MXFP4> {
  uint4 q[2];  // per row: block 2t + h's 16 bytes of codes (values 0..15 low nibbles, 16..31 high)
  float d[2];  // its scale 2^(e - 128)
  __device__ void load(const uint8_t* r0, const uint8_t* r1, int64_t kp, int ch, int h, int t) {
    const uint8_t* rows[2] = {r0, r1};
    for (int r = 0; r < 2; ++r) {
      const int64_t block = static_cast<int64_t>(ch) * 8 + 2 * t + h;
      q[r] = __ldg(reinterpret_cast<const uint4*>(rows[r] + block * 16));
      d[r] = mxfp4_scale(rows[r][kp / 2 + block]);
    }
  }
  // Each value decoded and scaled in float32 (exact: a power of two times a small integer), then
  // rounded to f16 once, so tiny scales keep what f16 can hold of the value.
  __device__ void a(int c, uint32_t (&regs)[4]) const {
    for (int r = 0; r < 2; ++r) {
      const uint4& u = q[r];
      const int word = c % 4;
      uint32_t w = word == 0 ? u.x : word == 1 ? u.y : word == 2 ? u.z : u.w;
      w = ((c >= 4) ? (w >> 4) : w) & 0x0f0f0f0fu;
      const float v0 = mxfp4_value(w & 0xff) * d[r], v1 = mxfp4_value((w >> 8) & 0xff) * d[r];
      const float v2 = mxfp4_value((w >> 16) & 0xff) * d[r], v3 = mxfp4_value(w >> 24) * d[r];
      regs[r] = h2_bits(__floats2half2_rn(v0, v1));
      regs[2 + r] = h2_bits(__floats2half2_rn(v2, v3));
    }
  }
};

// Scale and min (6 bits each) of sub-block j of a Q4_K/Q5_K block from its 12 scale bytes
// (words s0, s1, s2 = bytes 0-3, 4-7, 8-11).
__device__ __forceinline__ void k_scale_min(uint32_t s0, uint32_t s1, uint32_t s2, int j, int& sc, int& m) {
  auto byte = [&](int i) -> int {
    const uint32_t w = i < 4 ? s0 : i < 8 ? s1 : s2;
    return (w >> (8 * (i % 4))) & 0xff;
  };
  if (j < 4) {
    sc = byte(j) & 63;
    m = byte(j + 4) & 63;
  } else {
    sc = (byte(j + 4) & 0x0f) | ((byte(j - 4) >> 6) << 4);
    m = (byte(j + 4) >> 4) | ((byte(j) >> 6) << 4);
  }
}

template <DevType T>
struct TileK {  // Q4_K and Q5_K
  uint32_t q[2][8];   // per row: qs bytes 32t .. 32t + 31 (low nibbles: h = 0, high: h = 1)
  uint32_t qh[2][8];  // Q5_K: all 32 qh bytes
  __half2 ds[2], ndm[2];
  int shift;  // Q5_K: the qh bit of this lane and half
  int h_;
  __device__ void load(const uint8_t* r0, const uint8_t* r1, int64_t, int ch, int h, int t) {
    constexpr int kBlock = T == DevType::Q4_K ? 144 : 176;
    constexpr int kQs = T == DevType::Q4_K ? 16 : 48;
    const uint8_t* rows[2] = {r0, r1};
    h_ = h;
    shift = 2 * t + h;
    for (int r = 0; r < 2; ++r) {
      const uint8_t* b = rows[r] + static_cast<int64_t>(ch) * kBlock;
      const uint4 head = __ldg(reinterpret_cast<const uint4*>(b));
      const uint4 q0 = __ldg(reinterpret_cast<const uint4*>(b + kQs + 32 * t));
      const uint4 q1 = __ldg(reinterpret_cast<const uint4*>(b + kQs + 32 * t + 16));
      q[r][0] = q0.x, q[r][1] = q0.y, q[r][2] = q0.z, q[r][3] = q0.w;
      q[r][4] = q1.x, q[r][5] = q1.y, q[r][6] = q1.z, q[r][7] = q1.w;
      if constexpr (T == DevType::Q5_K) {
        const uint4 h0 = __ldg(reinterpret_cast<const uint4*>(b + 16));
        const uint4 h1 = __ldg(reinterpret_cast<const uint4*>(b + 32));
        qh[r][0] = h0.x, qh[r][1] = h0.y, qh[r][2] = h0.z, qh[r][3] = h0.w;
        qh[r][4] = h1.x, qh[r][5] = h1.y, qh[r][6] = h1.z, qh[r][7] = h1.w;
      }
      int sc, m;
      k_scale_min(head.y, head.z, head.w, 2 * t + h, sc, m);
      ds[r] = __float2half2_rn(half_lo(head.x) * static_cast<float>(sc));
      ndm[r] = __float2half2_rn(-half_hi(head.x) * static_cast<float>(m));
    }
  }
  __device__ void a(int c, uint32_t (&regs)[4]) const {
    const __half2 bias = __floats2half2_rn(1024.0f, 1024.0f);
    for (int r = 0; r < 2; ++r) {
      uint32_t w = (h_ ? (q[r][c] >> 4) : q[r][c]) & 0x0f0f0f0fu;
      if constexpr (T == DevType::Q5_K) w |= ((qh[r][c] >> shift) & 0x01010101u) << 4;
      __half2 lo, hi;
      unpack4(w, bias, lo, hi);
      regs[r] = h2_bits(__hfma2(lo, ds[r], ndm[r]));
      regs[2 + r] = h2_bits(__hfma2(hi, ds[r], ndm[r]));
    }
  }
};
template <>
struct Tile<DevType::Q4_K> : TileK<DevType::Q4_K> {};
template <>
struct Tile<DevType::Q5_K> : TileK<DevType::Q5_K> {};

template <>
struct Tile<DevType::Q6_K> {
  uint32_t ql[2][8];  // per row: the 8 ql words of this lane's half (see a())
  uint32_t qh[2][8];  // the 8 qh words of the lane's 128-value half
  uint32_t sc[2];     // scales 4t .. 4t + 3 (int8)
  float d[2];
  int shift_base, odd, h_;
  __device__ void load(const uint8_t* r0, const uint8_t* r1, int64_t kp, int ch, int h, int t) {
    const uint8_t* rows[2] = {r0, r1};
    const int n = t >> 1;
    odd = t & 1;
    h_ = h;
    shift_base = 2 * (2 * odd + h);
    for (int r = 0; r < 2; ++r) {
      const uint8_t* b = rows[r] + static_cast<int64_t>(ch) * 208;
      // k-steps 8h .. 8h + 7 read ql words 8h .. 8h + 7 of the lane's 64-byte half (bytes 64n ..).
      const uint4 l0 = __ldg(reinterpret_cast<const uint4*>(b + 64 * n + 32 * h));
      const uint4 l1 = __ldg(reinterpret_cast<const uint4*>(b + 64 * n + 32 * h + 16));
      ql[r][0] = l0.x, ql[r][1] = l0.y, ql[r][2] = l0.z, ql[r][3] = l0.w;
      ql[r][4] = l1.x, ql[r][5] = l1.y, ql[r][6] = l1.z, ql[r][7] = l1.w;
      const uint4 h0 = __ldg(reinterpret_cast<const uint4*>(b + 128 + 32 * n));
      const uint4 h1 = __ldg(reinterpret_cast<const uint4*>(b + 128 + 32 * n + 16));
      qh[r][0] = h0.x, qh[r][1] = h0.y, qh[r][2] = h0.z, qh[r][3] = h0.w;
      qh[r][4] = h1.x, qh[r][5] = h1.y, qh[r][6] = h1.z, qh[r][7] = h1.w;
      sc[r] = __ldg(reinterpret_cast<const uint32_t*>(b + 192 + 4 * t));
      d[r] = __half2float(*reinterpret_cast<const __half*>(rows[r] + kp / 256 * 208 + 2 * static_cast<int64_t>(ch)));
    }
  }
  __device__ void a(int c, uint32_t (&regs)[4]) const {
    const __half2 bias = __floats2half2_rn(1056.0f, 1056.0f);  // 1024 + 32
    for (int r = 0; r < 2; ++r) {
      // Values 64t + 4(8h + c) + j: 16-value sub-block 4t + (8h + c) / 4, i.e. scale byte
      // (8h + c) / 4 of this lane's four.
      const int sbyte = (8 * h_ + c) / 4;
      const float s = d[r] * static_cast<float>(static_cast<int8_t>((sc[r] >> (8 * sbyte)) & 0xff));
      const __half2 s2 = __float2half2_rn(s);
      uint32_t w = (odd ? (ql[r][c] >> 4) : ql[r][c]) & 0x0f0f0f0fu;
      w |= ((qh[r][c] >> shift_base) & 0x03030303u) << 4;
      __half2 lo, hi;
      unpack4(w, bias, lo, hi);
      regs[r] = h2_bits(__hmul2(lo, s2));
      regs[2 + r] = h2_bits(__hmul2(hi, s2));
    }
  }
};

// Tile<F16>::load has no kp argument; one signature for the kernels.
template <DevType T>
__device__ __forceinline__ void load_tile(Tile<T>& tile, const uint8_t* r0, const uint8_t* r1, int64_t kp, int ch,
                                          int h, int t) {
  if constexpr (T == DevType::F16) {
    tile.load(r0, r1, ch, h, t);
  } else {
    tile.load(r0, r1, kp, ch, h, t);
  }
}

// ---- x to f16 fragments ------------------------------------------------------------------------------
__global__ void to_fragments_kernel(const float* __restrict__ x, int64_t n, int64_t K, int chunks, int64_t total,
                                    uint4* __restrict__ xf) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= total) return;
  const int lane = static_cast<int>(i % 32), p = static_cast<int>((i / 32) % 8);
  const int64_t ch = (i / 256) % chunks, nb = i / (256 * static_cast<int64_t>(chunks));
  const int64_t token = nb * 8 + lane / 4;
  const int64_t k0 = ch * 256 + 64 * (lane % 4) + 8 * p;
  __half v[8];
  for (int j = 0; j < 8; ++j)
    v[j] = __float2half_rn(token < n && k0 + j < K ? x[token * K + k0 + j] : 0.0f);
  xf[i] = *reinterpret_cast<uint4*>(v);
}

// ---- decode / small batches: one 16-row group per block, one warp per K slice -----------------------
// NB 8-token blocks of x (n <= 8 * NB), read straight from float32 x and rounded to f16 as
// to_fragments rounds them (the same bits as the prefill variant's fragments). Shared memory:
// slices * NB * 128 floats.
__device__ __forceinline__ uint2 x_pair(const float* __restrict__ x, int64_t ldx, int64_t k, int64_t n, int64_t tok,
                                        int64_t k0, bool vec) {
  float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  if (tok < n) {
    const float* p = x + tok * ldx + k0;
    if (vec && k0 + 4 <= k) {
      const float4 f = __ldg(reinterpret_cast<const float4*>(p));
      v[0] = f.x, v[1] = f.y, v[2] = f.z, v[3] = f.w;
    } else {
      for (int j = 0; j < 4; ++j) v[j] = k0 + j < k ? p[j] : 0.0f;
    }
  }
  return make_uint2(h2_bits(__floats2half2_rn(v[0], v[1])), h2_bits(__floats2half2_rn(v[2], v[3])));
}

template <DevType T, int NB>
__global__ void __launch_bounds__(32 * kMaxSlices) linear_small_kernel(LinearArgs a) {
  extern __shared__ float part[];  // [slice][nb][row 16][token 8]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int64_t r0 = static_cast<int64_t>(blockIdx.x) * 16;
  const uint8_t* row0 = a.w + min(r0 + g, a.m - 1) * a.row_stride;
  const uint8_t* row1 = a.w + min(r0 + g + 8, a.m - 1) * a.row_stride;
  const bool vec = a.ldx % 4 == 0;
  float acc[NB][4];
  for (int nb = 0; nb < NB; ++nb) acc[nb][0] = acc[nb][1] = acc[nb][2] = acc[nb][3] = 0.0f;
  const int ch0 = warp * a.slice_chunks, ch1 = min(a.chunks, ch0 + a.slice_chunks);
  for (int ch = ch0; ch < ch1; ++ch) {
    for (int h = 0; h < 2; ++h) {
      Tile<T> tile;
      load_tile(tile, row0, row1, a.kp, ch, h, t);
      for (int c = 0; c < 8; ++c) {
        const int64_t k0 = static_cast<int64_t>(ch) * 256 + 64 * t + 4 * (8 * h + c);
        uint2 b[NB];
        for (int nb = 0; nb < NB; ++nb) b[nb] = x_pair(a.x, a.ldx, a.k, a.n, nb * 8 + g, k0, vec);
        uint32_t regs[4];
        tile.a(c, regs);
        for (int nb = 0; nb < NB; ++nb) mma16816(acc[nb], regs, b[nb].x, b[nb].y);
      }
    }
  }
  for (int nb = 0; nb < NB; ++nb) {
    float* pw = part + (warp * NB + nb) * 128;
    pw[g * 8 + 2 * t] = acc[nb][0];
    pw[g * 8 + 2 * t + 1] = acc[nb][1];
    pw[(g + 8) * 8 + 2 * t] = acc[nb][2];
    pw[(g + 8) * 8 + 2 * t + 1] = acc[nb][3];
  }
  __syncthreads();
  const int slices = blockDim.x / 32;
  for (int i = threadIdx.x; i < NB * 128; i += blockDim.x) {
    const int nb = i / 128, row = (i % 128) / 8, tok = nb * 8 + i % 8;
    float total = 0.0f;
    for (int s = 0; s < slices; ++s) total += part[s * NB * 128 + i];
    if (tok < a.n && r0 + row < a.m) a.y[tok * a.ldy + r0 + row] = total;
  }
}

// ---- prefill: 64 rows (4 warps of 16) x 64 tokens per block; each warp runs the slices in turn ------
template <DevType T>
__global__ void __launch_bounds__(128) linear_large_kernel(LinearArgs a) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int64_t r0 = static_cast<int64_t>(blockIdx.x) * 64 + warp * 16;
  const int nb0 = blockIdx.y * 8;  // first 8-token block of this tile
  const int nbs = static_cast<int>((a.n + 7) / 8);
  const uint8_t* row0 = a.w + min(r0 + g, a.m - 1) * a.row_stride;
  const uint8_t* row1 = a.w + min(r0 + g + 8, a.m - 1) * a.row_stride;
  float total[8][4];
  for (int nb = 0; nb < 8; ++nb) total[nb][0] = total[nb][1] = total[nb][2] = total[nb][3] = 0.0f;
  for (int s0 = 0; s0 < a.chunks; s0 += a.slice_chunks) {
    float acc[8][4];
    for (int nb = 0; nb < 8; ++nb) acc[nb][0] = acc[nb][1] = acc[nb][2] = acc[nb][3] = 0.0f;
    const int s1 = min(a.chunks, s0 + a.slice_chunks);
    for (int ch = s0; ch < s1; ++ch) {
      for (int h = 0; h < 2; ++h) {
        Tile<T> tile;
        load_tile(tile, row0, row1, a.kp, ch, h, t);
        for (int pp = 0; pp < 4; ++pp) {
          const int p = 4 * h + pp;
          uint4 b[8];
          for (int nb = 0; nb < 8; ++nb)
            b[nb] = nb0 + nb < nbs ? __ldg(a.xf + ((static_cast<int64_t>(nb0 + nb) * a.chunks + ch) * 8 + p) * 32 + lane)
                                   : make_uint4(0, 0, 0, 0);
          uint32_t regs[4];
          tile.a(2 * pp, regs);
          for (int nb = 0; nb < 8; ++nb) mma16816(acc[nb], regs, b[nb].x, b[nb].y);
          tile.a(2 * pp + 1, regs);
          for (int nb = 0; nb < 8; ++nb) mma16816(acc[nb], regs, b[nb].z, b[nb].w);
        }
      }
    }
    for (int nb = 0; nb < 8; ++nb)
      for (int i = 0; i < 4; ++i) total[nb][i] += acc[nb][i];
  }
  for (int nb = 0; nb < 8; ++nb) {
    const int64_t tok = static_cast<int64_t>(nb0 + nb) * 8 + 2 * t;
    const int64_t ra = r0 + g, rb = r0 + g + 8;
    if (ra < a.m) {
      if (tok < a.n) a.y[tok * a.ldy + ra] = total[nb][0];
      if (tok + 1 < a.n) a.y[(tok + 1) * a.ldy + ra] = total[nb][1];
    }
    if (rb < a.m) {
      if (tok < a.n) a.y[tok * a.ldy + rb] = total[nb][2];
      if (tok + 1 < a.n) a.y[(tok + 1) * a.ldy + rb] = total[nb][3];
    }
  }
}

template <DevType T>
void launch_for_type(const LinearArgs& a, cudaStream_t stream) {
  const int slices = (a.chunks + a.slice_chunks - 1) / a.slice_chunks;
  if (a.n <= 8 * kSmallMaxBlocks) {
    const int nb = static_cast<int>((a.n + 7) / 8);
    const dim3 grid(blocks_for(a.m, 16));
    const unsigned threads = 32 * slices;
    if (nb <= 1) {
      linear_small_kernel<T, 1><<<grid, threads, slices * 128 * sizeof(float), stream>>>(a);
    } else if (nb <= 2) {
      linear_small_kernel<T, 2><<<grid, threads, slices * 2 * 128 * sizeof(float), stream>>>(a);
    } else {
      linear_small_kernel<T, 4><<<grid, threads, slices * 4 * 128 * sizeof(float), stream>>>(a);
    }
  } else {
    const dim3 grid(blocks_for(a.m, 64), blocks_for(a.n, 64));
    linear_large_kernel<T><<<grid, 128, 0, stream>>>(a);
  }
  AX_CUDA_LAUNCHED();
}

}  // namespace

int64_t fragment_blocks(int64_t n) { return (n + 7) / 8; }

bool needs_fragments(int64_t n) { return n > 8 * kSmallMaxBlocks; }

void to_fragments(const float* x, int64_t n, int64_t k, int64_t kp, uint4* xf, cudaStream_t stream) {
  const int chunks = static_cast<int>(kp / 256);
  const int64_t total = fragment_blocks(n) * chunks * 256;
  to_fragments_kernel<<<blocks_for(total, 256), 256, 0, stream>>>(x, n, k, chunks, total, xf);
  AX_CUDA_LAUNCHED();
}

int slice_chunks_for(int chunks) { return (chunks + kMaxSlices - 1) / kMaxSlices; }

void linear_fragments(DevType type, const LinearArgs& a, cudaStream_t stream) {
  switch (type) {
    case DevType::F16: return launch_for_type<DevType::F16>(a, stream);
    case DevType::Q8_0: return launch_for_type<DevType::Q8_0>(a, stream);
    case DevType::Q4_0: return launch_for_type<DevType::Q4_0>(a, stream);
    case DevType::Q4_K: return launch_for_type<DevType::Q4_K>(a, stream);
    case DevType::Q5_K: return launch_for_type<DevType::Q5_K>(a, stream);
    case DevType::Q6_K: return launch_for_type<DevType::Q6_K>(a, stream);
    case DevType::MXFP4: return launch_for_type<DevType::MXFP4>(a, stream);
  }
}

}  // namespace ax::cuda
