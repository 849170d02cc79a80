// The vector row ops (residual add, RMSNorm, RoPE rotation; kernels_body.inc) of every tier this
// CPU runs give the scalar reference's results bit for bit, on fresh random rows whose lengths
// leave vector tails, for both RoPE pairings and partial rotary dims.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/kernels/isa_kernels.h"
#include "backend/cpu/kernels/kernels.h"
#include "backend/cpu/reference.h"
#include "backend/required_tiers.h"

namespace ax::cpu::kernels {
namespace {

// The tiers with vector row ops (Avx2Vnni runs the AVX2 table) that this CPU runs.
std::vector<Isa> tiers() { return tiers_to_test({Isa::Avx2, Isa::Avx512}); }

std::vector<float> normal(std::mt19937& rng, size_t n, float sd) {
  std::normal_distribution<float> d(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(KernelsRowOps, AddAndRmsNormEqualTheReference) {
  const std::vector<Isa> isas = tiers();
  AX_SKIP_UNLESS_TIER(!isas.empty(), "avx2");
  const uint32_t seed = std::random_device{}();
  std::mt19937 rng(seed);
  for (Isa isa : isas)
    for (int64_t dim : {1, 7, 13, 200, 1024, 1030}) {
      SCOPED_TRACE(testing::Message() << isa_name(isa) << " dim " << dim << " seed " << seed);
      const int64_t n = 3;
      const auto x = normal(rng, n * dim, 3.0f), w = normal(rng, dim, 1.0f), u = normal(rng, n * dim, 1.0f);
      std::vector<float> want(n * dim), got(n * dim, std::nanf(""));
      ref::rms_norm(x.data(), w.data(), n, dim, 1e-6f, want.data());
      isa_kernels(isa)->rms_norm(x.data(), w.data(), n, dim, 1e-6f, got.data());
      EXPECT_TRUE(same_bits(got, want)) << "rms_norm";
      want = x;
      got = x;
      ref::add(want.data(), u.data(), n * dim);
      isa_kernels(isa)->add(got.data(), u.data(), n * dim);
      EXPECT_TRUE(same_bits(got, want)) << "add";
    }
}

TEST(KernelsRowOps, RopeEqualsTheReference) {
  const std::vector<Isa> isas = tiers();
  AX_SKIP_UNLESS_TIER(!isas.empty(), "avx2");
  const uint32_t seed = std::random_device{}();
  std::mt19937 rng(seed);
  struct Shape {
    int64_t head_dim, rotary_dim;
  };
  for (Isa isa : isas)
    for (bool adjacent : {false, true})
      for (const Shape& sh : {Shape{128, 128}, Shape{64, 64}, Shape{32, 24}, Shape{8, 6}, Shape{80, 40}}) {
        SCOPED_TRACE(testing::Message() << isa_name(isa) << " adjacent " << adjacent << " head_dim " << sh.head_dim
                                        << " rotary " << sh.rotary_dim << " seed " << seed);
        RopeFreqs f;
        f.rotary_dim = sh.rotary_dim;
        f.adjacent_pairs = adjacent;
        f.attention_factor = 1.1f;
        for (int64_t i = 0; i < sh.rotary_dim / 2; ++i)
          f.inv_freq.push_back(std::pow(10000.0f, -2.0f * static_cast<float>(i) / static_cast<float>(sh.rotary_dim)));
        const int64_t qh = 5, kh = 2, pos = static_cast<int64_t>(rng() % 40000);
        const auto q = normal(rng, qh * sh.head_dim, 1.0f), k = normal(rng, kh * sh.head_dim, 1.0f);
        std::vector<float> qw = q, kw = k, qg = q, kg = k;
        ref::rope(qw.data(), qh, kw.data(), kh, sh.head_dim, pos, f);
        std::vector<float> c(f.inv_freq.size()), s(f.inv_freq.size());
        ref::rope_angles(sh.head_dim, pos, f, c.data(), s.data());
        isa_kernels(isa)->rope_rotate(qg.data(), qh, sh.head_dim, f.rotary_dim, adjacent, c.data(), s.data());
        isa_kernels(isa)->rope_rotate(kg.data(), kh, sh.head_dim, f.rotary_dim, adjacent, c.data(), s.data());
        EXPECT_TRUE(same_bits(qg, qw)) << "queries";
        EXPECT_TRUE(same_bits(kg, kw)) << "keys";
        // The engine's entry point (its tier) too, without keys.
        qg = q;
        rope(qg.data(), qh, nullptr, 0, sh.head_dim, pos, f);
        qw = q;
        ref::rope(qw.data(), qh, nullptr, 0, sh.head_dim, pos, f);
        EXPECT_TRUE(same_bits(qg, qw)) << "kernels::rope";
      }
}

}  // namespace
}  // namespace ax::cpu::kernels
