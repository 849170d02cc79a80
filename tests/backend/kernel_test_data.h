#pragma once
// Random weights in the stored GGUF layouts and the reference checks shared by the kernel tests
// (kernels_matmul_test.cpp: the per-row kernels and GEMMs; kernels_packed_test.cpp: the packed
// tiles).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "format/dequant.h"
#include "format/dtype.h"
#include "format/tensor.h"
#include "util/half.h"

namespace ax::cpu::kernels {

inline uint32_t fresh_seed() { return std::random_device{}(); }

inline void put_half(uint8_t* p, float v) {
  const uint16_t h = f32_to_fp16(v);
  std::memcpy(p, &h, 2);
}

// Random rows of `out` x `in` values of type t: random bytes for quants and scales, then each
// block's f16 scale fields set to sane random values (|d| in [1e-3, 2e-2]; MXFP4: 2^-10 .. 2^-4).
inline std::vector<uint8_t> random_weights(DType t, int64_t out, int64_t in, std::mt19937& rng) {
  const size_t rb = row_bytes(t, in);
  std::vector<uint8_t> w(rb * out);
  std::uniform_int_distribution<int> byte(0, 255);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  std::uniform_real_distribution<float> mag(1e-3f, 2e-2f);
  auto scale = [&] { return (byte(rng) & 1 ? -1.0f : 1.0f) * mag(rng); };
  const int64_t count = out * in;
  switch (t) {
    case DType::F32:
      for (int64_t i = 0; i < count; ++i) {
        const float v = normal(rng);
        std::memcpy(&w[4 * i], &v, 4);
      }
      return w;
    case DType::F16:
    case DType::BF16:
      for (int64_t i = 0; i < count; ++i) {
        const uint16_t h = t == DType::F16 ? f32_to_fp16(normal(rng)) : f32_to_bf16(normal(rng));
        std::memcpy(&w[2 * i], &h, 2);
      }
      return w;
    default: break;
  }
  for (auto& b : w) b = static_cast<uint8_t>(byte(rng));
  const auto& info = dtype_info(t);
  const int64_t blocks = count / info.block_size;
  for (int64_t b = 0; b < blocks; ++b) {
    uint8_t* blk = w.data() + b * info.type_size;
    switch (t) {
      case DType::Q8_0:
      case DType::Q4_0: put_half(blk, scale()); break;
      case DType::Q4_K:
      case DType::Q5_K:
        put_half(blk, mag(rng));
        put_half(blk + 2, mag(rng));
        break;
      case DType::Q6_K: put_half(blk + 208, scale()); break;
      case DType::Q5_0: put_half(blk, scale()); break;        // d, qh[4], qs[16]
      case DType::Q3_K: put_half(blk + 108, scale()); break;  // hmask[32], qs[64], scales[12], d
      case DType::MXFP4: blk[0] = static_cast<uint8_t>(118 + byte(rng) % 7); break;  // 2^-10 .. 2^-4
      default: ADD_FAILURE() << "no generator for " << dtype_name(t);
    }
  }
  return w;
}

// The bytes w as a weight tensor {out, in} of type t (a view: w must outlive it).
inline TensorView view_of(DType t, const std::vector<uint8_t>& w, int64_t out, int64_t in) {
  TensorView v;
  v.name = "test.weight";
  v.dtype = t;
  v.shape = {out, in};
  v.data = w.data();
  v.nbytes = w.size();
  return v;
}

inline std::vector<float> dequantized(DType t, const std::vector<uint8_t>& w, int64_t out, int64_t in) {
  std::vector<float> f(out * in);
  const size_t rb = row_bytes(t, in);
  for (int64_t o = 0; o < out; ++o) {
    const uint8_t* src = w.data() + o * rb;
    float* dst = f.data() + o * in;
    for (int64_t i = 0; i < in; ++i) {
      uint16_t h;
      switch (t) {
        case DType::F32: std::memcpy(&dst[i], src + 4 * i, 4); break;
        case DType::F16: std::memcpy(&h, src + 2 * i, 2); dst[i] = fp16_to_f32(h); break;
        case DType::BF16: std::memcpy(&h, src + 2 * i, 2); dst[i] = bf16_to_f32(h); break;
        default: break;
      }
    }
    if (t != DType::F32 && t != DType::F16 && t != DType::BF16) dequantize_row(t, src, dst, in);
  }
  return f;
}

// x as the kernel's activation format sees it (float types: unchanged), and for each value the
// error a rounding tie broken the other way would add (|x * 127 / amax| within 1e-3 of k + 1/2).
struct ActView {
  std::vector<float> x;
  std::vector<float> tie_step;
};

// The GEMM path (many rows) rounds x to bfloat16; the weights are rounded too (bf16_weights).
inline ActView bf16_view(const std::vector<float>& x) {
  ActView v{x, std::vector<float>(x.size(), 0.0f)};
  for (auto& f : v.x) f = bf16_to_f32(f32_to_bf16(f));
  return v;
}

inline ActView activation_view(DType t, const std::vector<float>& x) {
  int64_t qb = 0;
  if (t == DType::Q8_0 || t == DType::Q4_0 || t == DType::MXFP4) qb = 32;
  if (t == DType::Q4_K || t == DType::Q5_K || t == DType::Q6_K) qb = 256;
  ActView v{x, std::vector<float>(x.size(), 0.0f)};
  if (qb == 0) return v;
  for (size_t b = 0; b < x.size(); b += qb) {
    float amax = 0;
    for (int64_t i = 0; i < qb; ++i) amax = std::max(amax, std::fabs(x[b + i]));
    const float id = amax > 0 ? 127.0f / amax : 0.0f;
    const float d = amax / 127.0f;
    for (int64_t i = 0; i < qb; ++i) {
      const float scaled = x[b + i] * id;
      v.x[b + i] = std::nearbyint(scaled) * d;
      const float frac = std::fabs(scaled - std::trunc(scaled));
      if (std::fabs(frac - 0.5f) < 1e-3f) v.tie_step[b + i] = d;
    }
  }
  return v;
}

// y {n, out} from a kernel against double-precision dots: tight against the weights and x as the
// kernel sees them (wseen, view.x), loose against the exact ones (wf, x).
inline void expect_matches_reference(const std::vector<float>& wf, const std::vector<float>& wseen, int64_t out,
                                     int64_t in, const std::vector<float>& x, const ActView& view,
                                     const std::vector<float>& y, int64_t n) {
  const auto& xq = view.x;
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      double exact = 0, seen = 0, abs_seen = 0, ties = 0, bound = 0;
      for (int64_t i = 0; i < in; ++i) {
        const double wv = wf[o * in + i], ws = wseen[o * in + i];
        exact += wv * x[r * in + i];
        seen += ws * xq[r * in + i];
        abs_seen += std::fabs(ws * xq[r * in + i]);
        ties += std::fabs(ws) * view.tie_step[r * in + i];
        // what the kernel's rounding of x (and, on the GEMM path, of w) can move the result
        bound += std::fabs(wv * x[r * in + i] - ws * xq[r * in + i]);
      }
      const float got = y[r * out + o];
      // float accumulation error, plus the values whose rounding tie may have gone the other way
      ASSERT_NEAR(got, seen, 2e-6 * abs_seen + ties + 1e-6) << "row " << r << " out " << o;
      ASSERT_NEAR(got, exact, 2e-6 * abs_seen + ties + bound + 1e-6) << "row " << r << " out " << o;
    }
  }
}


}  // namespace ax::cpu::kernels
