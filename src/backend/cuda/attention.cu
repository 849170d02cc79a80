// Paged attention over the engine's block tables, and the K/V writes into the pool.
//
// Every query token runs the same computation whatever else is in the step (batch invariance):
//   - its visible keys [first, pos] are cut into segments at multiples of kAttnSegment positions;
//   - a segment is one block of 4 warps; warp w takes the 32-key groups w, w + 4, ... of the
//     segment, each with its own online softmax (m, l, acc), and the block folds the warps in order;
//   - a token with one segment writes its output directly; otherwise the segments' partial results
//     go to scratch and attention_combine folds them in order.
// fold(a, b): M = max(a.m, b.m); l = a.l e^(a.m - M) + b.l e^(b.m - M); acc likewise.
// Lanes hold one key each for the scores (its whole K row, 16-byte loads), and dims
// [lane * DP, lane * DP + DP) of the accumulator for P.V (V rows read coalesced). V rows are
// v_dim wide (the first v_dim values of rows head_dim apart: MLA's latent V lies in its K rows).
// A block takes one pass of kHeadsPerPass query heads of its kv head (grid y = kv head * passes +
// pass), so many query heads over one kv head (MLA) still fill the device.
#include <cuda_fp16.h>

#include <algorithm>

#include "backend/cuda/cuda_common.cuh"
#include "backend/cuda/cuda_kernels.h"

namespace ax::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kHeadsPerPass = 4;  // query heads of one kv group taken together
constexpr int kSeg = static_cast<int>(kAttnSegment);
constexpr int kGroupsPerWarp = kSeg / 32 / kWarps;

template <typename KV>
__device__ __forceinline__ void load8(const KV* p, float (&v)[8]);
template <>
__device__ __forceinline__ void load8<__half>(const __half* p, float (&v)[8]) {
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  const __half2* h = reinterpret_cast<const __half2*>(&u);
  for (int i = 0; i < 4; ++i) {
    const float2 f = __half22float2(h[i]);
    v[2 * i] = f.x;
    v[2 * i + 1] = f.y;
  }
}
template <>
__device__ __forceinline__ void load8<float>(const float* p, float (&v)[8]) {
  const float4 a = *reinterpret_cast<const float4*>(p), b = *reinterpret_cast<const float4*>(p + 4);
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}
__device__ __forceinline__ float to_f(__half h) { return __half2float(h); }
__device__ __forceinline__ float to_f(float f) { return f; }

// The output of a head from its folded (m, l, acc): with a sink logit, the sink joins the softmax
// (its max and its sum) and brings no value.
__device__ __forceinline__ float finish(float m, float l, float acc, const float* sinks, int64_t h) {
  if (sinks == nullptr) return acc / l;
  const float M = fmaxf(m, sinks[h]), e = __expf(m - M);
  return acc * e / (l * e + __expf(sinks[h] - M));
}

// Folds (bm, bl, ba) into the running (fm, fl, fa); an empty side (m = -inf) changes nothing.
__device__ __forceinline__ void fold(float& fm, float& fl, float& fa, float bm, float bl, float ba) {
  if (bm == -INFINITY) return;
  if (fm == -INFINITY) {
    fm = bm, fl = bl, fa = ba;
    return;
  }
  const float M = fmaxf(fm, bm), ea = __expf(fm - M), eb = __expf(bm - M);
  fl = fl * ea + bl * eb;
  fa = fa * ea + ba * eb;
  fm = M;
}

__device__ __forceinline__ int64_t first_key(int64_t pos, int64_t window) {
  return window > 0 ? max(int64_t{0}, pos - window + 1) : int64_t{0};
}

// One (token, kv head and pass of its query heads, segment) per block.
template <typename KV, int DP>
__global__ void __launch_bounds__(32 * kWarps) attention_kernel(AttentionArgs a, int64_t t0, int max_segments,
                                                                float* __restrict__ scratch) {
  const int64_t tok = t0 + blockIdx.x;
  const int G = static_cast<int>(a.heads / a.kv_heads);
  const int passes = (G + kHeadsPerPass - 1) / kHeadsPerPass;
  const int kh = static_cast<int>(blockIdx.y) / passes, pass = static_cast<int>(blockIdx.y) % passes;
  const int sg = blockIdx.z;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t D = a.head_dim, Dv = a.v_dim;
  const int64_t pos = a.positions[tok];
  const int64_t first = first_key(pos, a.window);
  const int seg_first = static_cast<int>(first / kSeg), seg_last = static_cast<int>(pos / kSeg);
  if (sg < seg_first || sg > seg_last) return;
  const int64_t seg_lo = static_cast<int64_t>(sg) * kSeg;
  const int64_t j0 = max(first, seg_lo), j1 = min(pos + 1, seg_lo + kSeg);
  const int32_t* table = a.block_tables + a.table_begin[a.token_seq[tok]];
  const KV* kbase = static_cast<const KV*>(a.kv.k) + kh * a.kv.head_stride;
  const KV* vbase = static_cast<const KV*>(a.kv.v) + kh * a.kv.head_stride;
  const int64_t bs = a.kv.block_size;

  extern __shared__ float smem[];
  float* qs = smem;                                        // [kHeadsPerPass][D]
  float* ps = qs + kHeadsPerPass * D;                      // [warp][head][32]
  float* wml = ps + kWarps * kHeadsPerPass * 32;           // [warp][head][m, l]
  float* wacc = wml + kWarps * kHeadsPerPass * 2;          // [warp][head][Dv]

  {
    const int h0 = pass * kHeadsPerPass;
    const int nh = min(kHeadsPerPass, G - h0);
    for (int64_t i = threadIdx.x; i < kHeadsPerPass * D; i += blockDim.x) {
      const int hh = static_cast<int>(i / D);
      qs[i] = hh < nh ? a.q[tok * a.heads * D + (kh * G + h0 + hh) * D + i % D] : 0.0f;
    }
    __syncthreads();
    float m[kHeadsPerPass], l[kHeadsPerPass], acc[kHeadsPerPass][DP];
    for (int hh = 0; hh < kHeadsPerPass; ++hh) {
      m[hh] = -INFINITY;
      l[hh] = 0.0f;
      for (int i = 0; i < DP; ++i) acc[hh][i] = 0.0f;
    }
    for (int gi = 0; gi < kGroupsPerWarp; ++gi) {
      const int64_t g0 = seg_lo + 32 * (warp + kWarps * gi);
      if (g0 + 32 <= j0 || g0 >= j1) continue;  // the whole group is outside the visible keys
      const int64_t j = g0 + lane;
      const bool valid = j >= j0 && j < j1;
      float s[kHeadsPerPass] = {};
      if (valid) {
        const KV* krow = kbase + (static_cast<int64_t>(table[j / bs]) * bs + j % bs) * D;
        for (int64_t d = 0; d < D; d += 8) {
          float kv8[8];
          load8(krow + d, kv8);
          for (int hh = 0; hh < kHeadsPerPass; ++hh)
            for (int e = 0; e < 8; ++e) s[hh] += qs[hh * D + d + e] * kv8[e];
        }
      }
      for (int hh = 0; hh < kHeadsPerPass; ++hh) {
        float sc = valid ? s[hh] * a.scale : -INFINITY;
        if (valid && a.softcap > 0) sc = a.softcap * tanhf(sc / a.softcap);
        const float m_new = fmaxf(m[hh], warp_max(sc));
        const float p = valid ? __expf(sc - m_new) : 0.0f;
        const float corr = __expf(m[hh] - m_new);
        l[hh] = l[hh] * corr + warp_sum(p);
        for (int i = 0; i < DP; ++i) acc[hh][i] *= corr;
        m[hh] = m_new;
        ps[(warp * kHeadsPerPass + hh) * 32 + lane] = p;
      }
      __syncwarp();
      for (int jj = 0; jj < 32; ++jj) {
        const int64_t jk = g0 + jj;
        if (jk < j0 || jk >= j1) continue;
        const KV* vrow = vbase + (static_cast<int64_t>(table[jk / bs]) * bs + jk % bs) * D;
        float v[DP];
        for (int i = 0; i < DP; ++i) {
          const int64_t d = lane * DP + i;
          v[i] = d < Dv ? to_f(vrow[d]) : 0.0f;
        }
        for (int hh = 0; hh < kHeadsPerPass; ++hh) {
          const float p = ps[(warp * kHeadsPerPass + hh) * 32 + jj];
          for (int i = 0; i < DP; ++i) acc[hh][i] += p * v[i];
        }
      }
      __syncwarp();
    }
    // The warps' results, folded in warp order.
    for (int hh = 0; hh < kHeadsPerPass; ++hh) {
      if (lane == 0) {
        wml[(warp * kHeadsPerPass + hh) * 2] = m[hh];
        wml[(warp * kHeadsPerPass + hh) * 2 + 1] = l[hh];
      }
      for (int i = 0; i < DP; ++i) {
        const int64_t d = lane * DP + i;
        if (d < Dv) wacc[(warp * kHeadsPerPass + hh) * Dv + d] = acc[hh][i];
      }
    }
    __syncthreads();
    const bool single = seg_first == seg_last;
    for (int64_t i = threadIdx.x; i < nh * Dv; i += blockDim.x) {
      const int hh = static_cast<int>(i / Dv);
      const int64_t d = i % Dv;
      float fm = -INFINITY, fl = 0.0f, fa = 0.0f;
      for (int w = 0; w < kWarps; ++w)
        fold(fm, fl, fa, wml[(w * kHeadsPerPass + hh) * 2], wml[(w * kHeadsPerPass + hh) * 2 + 1],
             wacc[(w * kHeadsPerPass + hh) * Dv + d]);
      const int64_t h = kh * G + h0 + hh;
      if (single) {
        a.out[tok * a.heads * Dv + h * Dv + d] = finish(fm, fl, fa, a.sinks, h);
      } else {
        float* part = scratch + (((tok - t0) * a.heads + h) * max_segments + sg) * (Dv + 2);
        part[2 + d] = fa;
        if (d == 0) {
          part[0] = fm;
          part[1] = fl;
        }
      }
    }
    __syncthreads();
  }
}

// Tokens with several segments: fold their partial results in segment order. One block per
// (token, head); threads over head dims.
__global__ void attention_combine_kernel(AttentionArgs a, int64_t t0, int max_segments, const float* __restrict__ scratch) {
  const int64_t tok = t0 + blockIdx.x;
  const int64_t h = blockIdx.y, Dv = a.v_dim;
  const int64_t pos = a.positions[tok];
  const int seg_first = static_cast<int>(first_key(pos, a.window) / kSeg), seg_last = static_cast<int>(pos / kSeg);
  if (seg_first == seg_last) return;  // written by attention_kernel
  for (int64_t d = threadIdx.x; d < Dv; d += blockDim.x) {
    float fm = -INFINITY, fl = 0.0f, fa = 0.0f;
    for (int sg = seg_first; sg <= seg_last; ++sg) {
      const float* part = scratch + (((tok - t0) * a.heads + h) * max_segments + sg) * (Dv + 2);
      fold(fm, fl, fa, part[0], part[1], part[2 + d]);
    }
    a.out[tok * a.heads * Dv + h * Dv + d] = finish(fm, fl, fa, a.sinks, h);
  }
}

template <typename KV>
__global__ void write_kv_kernel(KV* __restrict__ kd, KV* __restrict__ vd, const float* __restrict__ k,
                                const float* __restrict__ v, const int32_t* __restrict__ slots, int64_t T,
                                int64_t kv_heads, int64_t D, int64_t head_stride) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t width = kv_heads * D;
  if (idx >= T * width) return;
  const int64_t t = idx / width, h = (idx % width) / D, d = idx % D;
  const int64_t at = h * head_stride + static_cast<int64_t>(slots[t]) * D + d;
  if constexpr (sizeof(KV) == 2) {
    kd[at] = __float2half_rn(k[idx]);
    if (vd != nullptr) vd[at] = __float2half_rn(v[idx]);
  } else {
    kd[at] = k[idx];
    if (vd != nullptr) vd[at] = v[idx];
  }
}

int64_t partial_floats_per_token(const AttentionArgs& a) {
  const int64_t segments = (a.max_context + kSeg - 1) / kSeg;
  return segments <= 1 ? 0 : a.heads * segments * (a.v_dim + 2);
}

template <typename KV, int DP>
void launch(const AttentionArgs& a, float* scratch, size_t scratch_floats, cudaStream_t stream) {
  const int max_segments = static_cast<int>((a.max_context + kSeg - 1) / kSeg);
  const size_t smem = (kHeadsPerPass * a.head_dim + kWarps * kHeadsPerPass * (32 + 2 + a.v_dim)) * sizeof(float);
  const int64_t passes = (a.heads / a.kv_heads + kHeadsPerPass - 1) / kHeadsPerPass;
  // Tokens in waves whose partial results fit the scratch (the grid's y and z are small).
  const int64_t per_token = partial_floats_per_token(a);
  const int64_t wave = per_token == 0 ? a.T : std::max<int64_t>(1, static_cast<int64_t>(scratch_floats) / per_token);
  for (int64_t t0 = 0; t0 < a.T; t0 += wave) {
    const int64_t n = std::min(wave, a.T - t0);
    const dim3 grid(static_cast<unsigned>(n), static_cast<unsigned>(a.kv_heads * passes),
                    static_cast<unsigned>(max_segments));
    attention_kernel<KV, DP><<<grid, 32 * kWarps, smem, stream>>>(a, t0, max_segments, scratch);
    AX_CUDA_LAUNCHED();
    if (max_segments > 1) {
      attention_combine_kernel<<<dim3(static_cast<unsigned>(n), static_cast<unsigned>(a.heads)),
                                 static_cast<unsigned>(std::min<int64_t>(a.v_dim, 256)), 0, stream>>>(
          a, t0, max_segments, scratch);
      AX_CUDA_LAUNCHED();
    }
  }
}

// DP: V values per lane (V width up to 32 * DP).
template <typename KV>
void launch_kv(const AttentionArgs& a, float* scratch, size_t scratch_floats, cudaStream_t stream) {
  if (a.v_dim <= 32) return launch<KV, 1>(a, scratch, scratch_floats, stream);
  if (a.v_dim <= 64) return launch<KV, 2>(a, scratch, scratch_floats, stream);
  if (a.v_dim <= 128) return launch<KV, 4>(a, scratch, scratch_floats, stream);
  if (a.v_dim <= 256) return launch<KV, 8>(a, scratch, scratch_floats, stream);
  return launch<KV, 16>(a, scratch, scratch_floats, stream);
}

}  // namespace

size_t attention_scratch_floats(const AttentionArgs& a, size_t cap_floats) {
  const int64_t per_token = partial_floats_per_token(a);
  if (per_token == 0) return 0;
  // At least one token's partials, at most the cap unless one token needs more.
  return std::max<size_t>(per_token, std::min<size_t>(cap_floats, static_cast<size_t>(per_token * a.T)));
}

void attention(const AttentionArgs& a, float* scratch, size_t scratch_floats, cudaStream_t stream) {
  if (a.T == 0) return;
  // Shared memory stays under the 48 KiB a launch gets without opting in (MLA's 576 / 512: 43 KiB).
  if (a.head_dim % 8 != 0 || a.head_dim > 1024 || a.v_dim <= 0 || a.v_dim > 512 || a.v_dim > a.head_dim ||
      (kHeadsPerPass * a.head_dim + kWarps * kHeadsPerPass * (34 + a.v_dim)) * sizeof(float) > 48 * 1024)
    throw_usage_error("cuda attention: head_dim must be a multiple of 8 and V at most 512 wide, within K's width");
  if (a.kv.f16) launch_kv<__half>(a, scratch, scratch_floats, stream);
  else launch_kv<float>(a, scratch, scratch_floats, stream);
}

void write_kv(const KvLayer& kv, void* k_dst, void* v_dst, const float* k, const float* v, const int32_t* slots,
              int64_t T, int64_t kv_heads, int64_t head_dim, cudaStream_t stream) {
  const int64_t total = T * kv_heads * head_dim;
  if (total == 0) return;
  if (kv.f16) {
    write_kv_kernel<__half><<<blocks_for(total, 256), 256, 0, stream>>>(
        static_cast<__half*>(k_dst), static_cast<__half*>(v_dst), k, v, slots, T, kv_heads, head_dim, kv.head_stride);
  } else {
    write_kv_kernel<float><<<blocks_for(total, 256), 256, 0, stream>>>(
        static_cast<float*>(k_dst), static_cast<float*>(v_dst), k, v, slots, T, kv_heads, head_dim, kv.head_stride);
  }
  AX_CUDA_LAUNCHED();
}

}  // namespace ax::cuda
