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
#include "backend/kernel_test_data.h"
#include "backend/required_tiers.h"

namespace ax::cpu::kernels {
namespace {

struct Case {
  DType dtype;
  int64_t out, in, n;
};

// invariant: batch invariance on (the default; no GEMM) or off (the GEMM where the ISA has one).
void check(const Case& c, Isa isa, uint32_t seed, ThreadPool* pool, bool invariant = true) {
  const GemmKind kind = gemm_kind(c.dtype, isa, c.n, c.in, invariant);
  SCOPED_TRACE(testing::Message() << dtype_name(c.dtype) << " " << isa_name(isa)
                                  << " gemm=" << static_cast<int>(kind) << " out=" << c.out
                                  << " in=" << c.in << " n=" << c.n << " seed=" << seed);
  std::mt19937 rng(seed);
  const auto w = random_weights(c.dtype, c.out, c.in, rng);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(c.n * c.in);
  for (auto& v : x) v = normal(rng);
  x[0] = 40.0f;  // one outlier: a block whose scale is set by a single large value
  const bool gemm = kind == GemmKind::Bf16;  // F32 GEMM: no rounding
  auto wf = dequantized(c.dtype, w, c.out, c.in);
  std::vector<float> wseen = wf;
  if (gemm)
    for (auto& f : wseen) f = bf16_to_f32(f32_to_bf16(f));
  const ActView view = gemm ? bf16_view(x)
                       : kind == GemmKind::F32 ? ActView{x, std::vector<float>(x.size(), 0.0f)}
                                                                           : activation_view(c.dtype, x);
  std::vector<float> y(c.n * c.out, std::nanf(""));
  ASSERT_TRUE(matmul(c.dtype, w.data(), c.out, c.in, x.data(), c.n, y.data(), isa, pool, invariant));
  expect_matches_reference(wf, wseen, c.out, c.in, x, view, y, c.n);
}

// The tiers with per-row kernels (Avx2Vnni runs the AVX2 ones) that this CPU runs.
std::vector<Isa> fast_isas() { return tiers_to_test({Isa::Avx2, Isa::Avx512}); }

const DType kTypes[] = {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0,
                        DType::MXFP4, DType::Q4_K, DType::Q5_K, DType::Q6_K};

TEST(KernelsMatmul, EveryTypeAndIsaMatchesReference) {
  const std::vector<Isa> isas = fast_isas();
  AX_SKIP_UNLESS_TIER(!isas.empty(), "avx2");
  const uint32_t seed = fresh_seed();
  ThreadPool pool(2);
  for (Isa isa : isas) {
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

TEST(KernelsMatmul, ManyRowsTakeTheGemmPathWhereAvailable) {
  const std::vector<Isa> isas = fast_isas();
  AX_SKIP_UNLESS_TIER(!isas.empty(), "avx2");
  const uint32_t seed = fresh_seed();
  ThreadPool pool(2);
  for (Isa isa : isas) {
    for (DType t : kTypes) {
      const int64_t bs = dtype_info(t).block_size;
      // 70 output rows: two full 32-row panels and a partial one; 8-row tiles plus a remainder
      for (int64_t n : {kGemmMinRows, kGemmMinRows + 11}) {
        check({t, 70, bs == 1 ? 224 : 2 * 256, n}, isa, seed + static_cast<uint32_t>(n), &pool, /*invariant=*/false);
        if (testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

// The determinism contract: with batch invariance on (the default), each row's output is bit for bit
// the same whether the row is computed alone, in a small group or among many rows (prefill sizes
// past kGemmMinRows included), at any position in the batch, and with any thread count.
TEST(KernelsMatmul, BatchInvariantRowsAreBitIdenticalWhateverTheBatch) {
  const std::vector<Isa> isas = fast_isas();
  AX_SKIP_UNLESS_TIER(!isas.empty(), "avx2");
  const uint32_t seed = fresh_seed();
  std::mt19937 rng(seed);
  ThreadPool one(1), two(2);
  for (Isa isa : isas) {
    for (DType t : kTypes) {
      ASSERT_EQ(gemm_kind(t, isa, 64, 512, true), GemmKind::None);
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
  const std::vector<Isa> isas = fast_isas();
  AX_SKIP_UNLESS_TIER(!isas.empty(), "avx2");
  const uint32_t seed = fresh_seed();
  for (DType t : {DType::Q4_K, DType::Q6_K, DType::Q8_0, DType::BF16}) {
    check({t, 300, 1024, 9}, isas.back(), seed, nullptr);  // the widest tier, whatever AX_CPU_TIER says
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

// An element's result never depends on the length of the call it is in (the last row of a batch
// must equal the same row alone): lengths that are not multiples of the vector width included.
TEST(KernelsSwiglu, ElementsDoNotDependOnTheCallLength) {
  const uint32_t seed = fresh_seed();
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  const int64_t row = 172, rows = 5;  // stories260K's intermediate width: 172 % 8 = 4
  std::vector<float> g(row * rows), u(row * rows), all(row * rows), one(row);
  for (auto& v : g) v = normal(rng);
  for (auto& v : u) v = normal(rng);
  swiglu(g.data(), u.data(), all.data(), row * rows);
  for (int64_t r = 0; r < rows; ++r) {
    swiglu(g.data() + r * row, u.data() + r * row, one.data(), row);
    ASSERT_EQ(0, std::memcmp(one.data(), all.data() + r * row, row * sizeof(float))) << "row " << r << " seed " << seed;
  }
}

}  // namespace
}  // namespace ax::cpu::kernels
