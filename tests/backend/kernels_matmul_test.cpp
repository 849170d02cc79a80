// Every fast matmul kernel (each ISA this CPU runs) against the scalar reference on fresh random
// weights in the stored GGUF layout. Two checks per output:
//  - tight: against a double-precision dot of the reference-dequantized weights with x quantized the
//    way the kernel's activation format specifies (one scale = amax/127 per 32 or 256 values,
//    round to nearest), so any layout or offset error shows up far above float rounding;
//  - loose: against the plain float reference, within the bound of the activation quantization.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/kernels/kernels.h"
#include "format/dequant.h"
#include "format/dtype.h"
#include "util/half.h"
#include "util/thread_pool.h"

namespace ax::cpu::kernels {
namespace {

uint32_t fresh_seed() { return std::random_device{}(); }

void put_half(uint8_t* p, float v) {
  const uint16_t h = f32_to_fp16(v);
  std::memcpy(p, &h, 2);
}

// Random rows of `out` x `in` values of type t: random bytes for quants and scales, then each
// block's f16 scale fields set to sane random values (|d| in [1e-3, 2e-2]).
std::vector<uint8_t> random_weights(DType t, int64_t out, int64_t in, std::mt19937& rng) {
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
      default: ADD_FAILURE() << "no generator for " << dtype_name(t);
    }
  }
  return w;
}

std::vector<float> dequantized(DType t, const std::vector<uint8_t>& w, int64_t out, int64_t in) {
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
ActView bf16_view(const std::vector<float>& x) {
  ActView v{x, std::vector<float>(x.size(), 0.0f)};
  for (auto& f : v.x) f = bf16_to_f32(f32_to_bf16(f));
  return v;
}

ActView activation_view(DType t, const std::vector<float>& x) {
  int64_t qb = 0;
  if (t == DType::Q8_0 || t == DType::Q4_0) qb = 32;
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

struct Case {
  DType dtype;
  int64_t out, in, n;
};

void check(const Case& c, Isa isa, uint32_t seed, ThreadPool* pool) {
  SCOPED_TRACE(testing::Message() << dtype_name(c.dtype) << " " << isa_name(isa)
                                  << " gemm=" << static_cast<int>(gemm_kind(c.dtype, isa, c.n, c.in)) << " out=" << c.out
                                  << " in=" << c.in << " n=" << c.n << " seed=" << seed);
  std::mt19937 rng(seed);
  const auto w = random_weights(c.dtype, c.out, c.in, rng);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(c.n * c.in);
  for (auto& v : x) v = normal(rng);
  x[0] = 40.0f;  // one outlier: a block whose scale is set by a single large value
  const bool gemm = gemm_kind(c.dtype, isa, c.n, c.in) == GemmKind::Bf16;  // F32 GEMM: no rounding
  auto wf = dequantized(c.dtype, w, c.out, c.in);
  std::vector<float> wseen = wf;
  if (gemm)
    for (auto& f : wseen) f = bf16_to_f32(f32_to_bf16(f));
  const ActView view = gemm ? bf16_view(x)
                       : gemm_kind(c.dtype, isa, c.n, c.in) == GemmKind::F32 ? ActView{x, std::vector<float>(x.size(), 0.0f)}
                                                                           : activation_view(c.dtype, x);
  const auto& xq = view.x;
  std::vector<float> y(c.n * c.out, std::nanf(""));
  ASSERT_TRUE(matmul(c.dtype, w.data(), c.out, c.in, x.data(), c.n, y.data(), isa, pool));
  for (int64_t r = 0; r < c.n; ++r) {
    for (int64_t o = 0; o < c.out; ++o) {
      double exact = 0, seen = 0, abs_seen = 0, ties = 0, bound = 0;
      for (int64_t i = 0; i < c.in; ++i) {
        const double wv = wf[o * c.in + i], ws = wseen[o * c.in + i];
        exact += wv * x[r * c.in + i];
        seen += ws * xq[r * c.in + i];
        abs_seen += std::fabs(ws * xq[r * c.in + i]);
        ties += std::fabs(ws) * view.tie_step[r * c.in + i];
        // what the kernel's rounding of x (and, on the GEMM path, of w) can move the result
        bound += std::fabs(wv * x[r * c.in + i] - ws * xq[r * c.in + i]);
      }
      const float got = y[r * c.out + o];
      // float accumulation error, plus the values whose rounding tie may have gone the other way
      ASSERT_NEAR(got, seen, 2e-6 * abs_seen + ties + 1e-6) << "row " << r << " out " << o;
      ASSERT_NEAR(got, exact, 2e-6 * abs_seen + ties + bound + 1e-6) << "row " << r << " out " << o;
    }
  }
}

std::vector<Isa> fast_isas() {
  std::vector<Isa> v;
  for (Isa isa : {Isa::Avx2, Isa::Avx512})
    if (isa_supported(isa)) v.push_back(isa);
  return v;
}

const DType kTypes[] = {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0,
                        DType::Q4_K, DType::Q5_K, DType::Q6_K};

TEST(KernelsMatmul, EveryTypeAndIsaMatchesReference) {
  if (fast_isas().empty()) GTEST_SKIP() << "no AVX2 on this CPU";
  const uint32_t seed = fresh_seed();
  ThreadPool pool(2);
  for (Isa isa : fast_isas()) {
    for (DType t : kTypes) {
      ASSERT_TRUE(has_fast_path(t, isa));
      const int64_t bs = dtype_info(t).block_size;
      // out not a multiple of the 16-row tile; n covers the 4-row tile and each remainder
      for (int64_t n : {1, 2, 3, 4, 7}) {
        check({t, 37, bs == 1 ? 200 : 3 * 256, n}, isa, seed + static_cast<uint32_t>(n), &pool);
        if (testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

// Turns batch invariance off for one test (the GEMM only runs then) and back on after it.
struct GemmAllowed {
  GemmAllowed() { set_batch_invariant(false); }
  ~GemmAllowed() { set_batch_invariant(true); }
};

TEST(KernelsMatmul, ManyRowsTakeTheGemmPathWhereAvailable) {
  if (fast_isas().empty()) GTEST_SKIP() << "no AVX2 on this CPU";
  const GemmAllowed gemm_allowed;
  const uint32_t seed = fresh_seed();
  ThreadPool pool(2);
  for (Isa isa : fast_isas()) {
    for (DType t : kTypes) {
      const int64_t bs = dtype_info(t).block_size;
      // 70 output rows: two full 32-row panels and a partial one; 8-row tiles plus a remainder
      for (int64_t n : {kGemmMinRows, kGemmMinRows + 11}) {
        check({t, 70, bs == 1 ? 224 : 2 * 256, n}, isa, seed + static_cast<uint32_t>(n), &pool);
        if (testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

// The determinism contract: with batch invariance on (the default), each row's output is bit for bit
// the same whether the row is computed alone, in a small group or among many rows (prefill sizes
// past kGemmMinRows included), at any position in the batch, and with any thread count.
TEST(KernelsMatmul, BatchInvariantRowsAreBitIdenticalWhateverTheBatch) {
  if (fast_isas().empty()) GTEST_SKIP() << "no AVX2 on this CPU";
  ASSERT_TRUE(batch_invariant());
  const uint32_t seed = fresh_seed();
  std::mt19937 rng(seed);
  ThreadPool one(1), two(2);
  for (Isa isa : fast_isas()) {
    for (DType t : kTypes) {
      ASSERT_EQ(gemm_kind(t, isa, 64, 512), GemmKind::None);
      const int64_t out = 45, in = dtype_info(t).block_size == 1 ? 96 : 2 * 256, n = 41;
      const auto w = random_weights(t, out, in, rng);
      std::normal_distribution<float> normal(0.0f, 1.0f);
      std::vector<float> x(static_cast<size_t>(n * in));
      for (auto& v : x) v = normal(rng);
      std::vector<float> all(static_cast<size_t>(n * out)), part(static_cast<size_t>(n * out));
      ASSERT_TRUE(matmul(t, w.data(), out, in, x.data(), n, all.data(), isa, &two));
      // The same rows in groups of 1, 3 and 7 (every offset inside the 4-row tiles), one thread.
      for (int64_t group : {1, 3, 7}) {
        for (int64_t r0 = 0; r0 < n; r0 += group) {
          const int64_t g = std::min(group, n - r0);
          ASSERT_TRUE(matmul(t, w.data(), out, in, x.data() + r0 * in, g, part.data() + r0 * out, isa, &one));
        }
        ASSERT_EQ(0, std::memcmp(all.data(), part.data(), all.size() * sizeof(float)))
            << dtype_name(t) << " on " << isa_name(isa) << ", groups of " << group << ", seed " << seed;
      }
    }
  }
}

TEST(KernelsMatmul, LargerShapesWithDefaultPool) {
  if (fast_isas().empty()) GTEST_SKIP() << "no AVX2 on this CPU";
  const uint32_t seed = fresh_seed();
  for (DType t : {DType::Q4_K, DType::Q6_K, DType::Q8_0, DType::BF16}) {
    check({t, 300, 1024, 9}, best_isa(), seed, nullptr);
    if (testing::Test::HasFatalFailure()) return;
  }
}

TEST(KernelsMatmul, ScalarHasNoFastPathAndUnsupportedTypesFallBack) {
  EXPECT_FALSE(has_fast_path(DType::Q4_K, Isa::Scalar));
  std::vector<uint8_t> w(row_bytes(DType::Q2_K, 256) * 2, 1);
  std::vector<float> x(256, 1.0f), y(2, -1.0f);
  EXPECT_FALSE(matmul(DType::Q2_K, w.data(), 2, 256, x.data(), 1, y.data(), best_isa()));
  EXPECT_EQ(y[0], -1.0f);
}

TEST(KernelsSwiglu, MatchesScalarFormula) {
  const uint32_t seed = fresh_seed();
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  const int64_t n = 1000 + (rng() % 13);
  std::vector<float> g(n), u(n), out(n);
  for (auto& v : g) v = normal(rng);
  for (auto& v : u) v = normal(rng);
  g[0] = -100.0f;
  g[1] = 100.0f;
  swiglu(g.data(), u.data(), out.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    const double want = g[i] / (1.0 + std::exp(-static_cast<double>(g[i]))) * u[i];
    ASSERT_NEAR(out[i], want, 1e-6 * std::fabs(want) + 1e-30) << "i=" << i << " seed=" << seed;
  }
}

}  // namespace
}  // namespace ax::cpu::kernels
