// The packed 16-row tile kernels (backend/cpu/kernels/packed.h) on fresh random weights, for every
// tier this CPU runs (AVX2, AVX2 + AVX-VNNI, AVX-512 VNNI, AMX): the repack is lossless, every type
// matches the double-precision reference with x quantized as the kernels quantize it (float
// weights: x as is), rows are bit-identical whatever the batch (the point of the layout) and
// whatever the tier, and the CPU backend runs the packed copies of the weights it loads.
// AX_REQUIRE_ISA turns a tier this CPU lacks into a failure (backend/required_tiers.h).
#include <gtest/gtest.h>

#include <algorithm>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/kernels/kernels.h"
#include "backend/cpu/kernels/packed.h"
#include "backend/cpu/kernels/packed_kernels.h"
#include "backend/kernel_test_data.h"
#include "backend/required_tiers.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace ax::cpu::kernels {
namespace {

const DType kPackedTypes[] = {DType::Q8_0, DType::Q4_0, DType::MXFP4, DType::Q4_K, DType::Q5_K,
                              DType::Q6_K, DType::F32,  DType::F16,   DType::BF16};

// Whether this CPU has packed kernels (any AVX2 CPU), and whether the engine's tier packs the
// weights it loads (not when AX_CPU_TIER caps it to scalar).
bool have_packed() { return isa_supported(Isa::Avx2); }
bool engine_packs() { return packed_kernels(best_isa()) != nullptr; }
#define SKIP_UNLESS_ENGINE_PACKS()                                                                         \
  AX_SKIP_UNLESS_TIER(have_packed(), "avx2");                                                              \
  if (!engine_packs()) GTEST_SKIP() << "the engine's kernel tier (" << kernel_tier() << ") does not pack"

// The tiers with packed kernels that this CPU runs.
std::vector<Isa> packed_tiers() { return tiers_to_test({Isa::Avx2, Isa::Avx2Vnni, Isa::Avx512}); }
// Whether tier `isa` has packed kernels for `t` (every tier has them for every packed type now;
// a type a tier lacks would make packable() say no there, so the engine would not pack it).
bool tier_packs(Isa isa, DType t) { return packed_kernels(isa)->for_dtype(t) != nullptr; }

TEST(KernelsPacked, OnlyWholeGroupsOfSupportedTypesPack) {
  SKIP_UNLESS_ENGINE_PACKS();
  std::vector<uint8_t> w(row_bytes(DType::Q4_K, 256) * 32);
  EXPECT_TRUE(packable(view_of(DType::Q4_K, w, 32, 256)));
  EXPECT_FALSE(packable(view_of(DType::Q4_K, w, 24, 256)));   // not a multiple of 16 rows
  EXPECT_FALSE(packable(view_of(DType::Q2_K, w, 16, 256)));   // no packed kernel
  EXPECT_TRUE(packable(view_of(DType::F16, w, 16, 64)));
  EXPECT_FALSE(packable(view_of(DType::F16, w, 16, 48)));    // rows not whole 32-value blocks
  EXPECT_THROW(pack(view_of(DType::Q4_K, w, 24, 256)), ax::Error);
}

TEST(KernelsPacked, RepackIsLossless) {
  AX_SKIP_UNLESS_TIER(have_packed(), "avx2");
  const uint32_t seed = fresh_seed();
  std::mt19937 rng(seed);
  for (DType t : kPackedTypes) {
    const int64_t out = 48, in = 3 * (dtype_info(t).block_size == 32 ? 64 : 256);
    const auto w = random_weights(t, out, in, rng);  // random bytes: every 12-byte K-scale pattern round-trips
    const auto m = pack(view_of(t, w, out, in));
    const size_t rb = row_bytes(t, in);
    std::vector<uint8_t> row(rb);
    for (int64_t o = 0; o < out; ++o) {
      unpack_row(*m, o, row.data());
      ASSERT_EQ(0, std::memcmp(row.data(), w.data() + o * rb, rb)) << dtype_name(t) << " row " << o << " seed " << seed;
    }
  }
}

TEST(KernelsPacked, EveryTypeMatchesReference) {
  AX_SKIP_UNLESS_TIER(have_packed(), "avx2");
  const uint32_t seed = fresh_seed();
  std::mt19937 rng(seed);
  ThreadPool pool(2);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (Isa isa : packed_tiers())
    for (DType t : kPackedTypes) {
      if (!tier_packs(isa, t)) continue;
      const int64_t out = 48, in = 3 * 256;
      const auto w = random_weights(t, out, in, rng);
      const auto m = pack(view_of(t, w, out, in));
      const auto wf = dequantized(t, w, out, in);
      for (int64_t n : {1, 2, 3, 4, 5, 11, 37}) {  // 37: AMX tiles where the CPU has them
        SCOPED_TRACE(testing::Message() << isa_name(isa) << " " << dtype_name(t) << " n=" << n << " seed=" << seed);
        std::vector<float> x(static_cast<size_t>(n * in));
        for (auto& v : x) v = normal(rng);
        x[0] = 40.0f;  // one block whose scale is set by a single large value
        std::vector<float> y(static_cast<size_t>(n * out), std::nanf(""));
        matmul_packed(*m, x.data(), n, y.data(), &pool, isa);
        expect_matches_reference(wf, wf, out, in, x, activation_view(t, x), y, n);
        if (testing::Test::HasFatalFailure()) return;
      }
    }
}

// Decode (1 row), verify (a few) and prefill (many) give every row bit for bit the same output,
// at any offset in the batch and with any thread count.
TEST(KernelsPacked, RowsAreBitIdenticalWhateverTheBatch) {
  AX_SKIP_UNLESS_TIER(have_packed(), "avx2");
  const uint32_t seed = fresh_seed();
  std::mt19937 rng(seed);
  ThreadPool one(1), two(2);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (Isa isa : packed_tiers())
    for (DType t : kPackedTypes) {
      if (!tier_packs(isa, t)) continue;
      const int64_t out = 64, in = 2 * 256, n = 41;
      const auto w = random_weights(t, out, in, rng);
      const auto m = pack(view_of(t, w, out, in));
      std::vector<float> x(static_cast<size_t>(n * in));
      for (auto& v : x) v = normal(rng);
      std::vector<float> all(static_cast<size_t>(n * out)), part(static_cast<size_t>(n * out));
      matmul_packed(*m, x.data(), n, all.data(), &two, isa);
      for (int64_t group : {1, 3, 7}) {
        for (int64_t r0 = 0; r0 < n; r0 += group) {
          const int64_t g = std::min(group, n - r0);
          matmul_packed(*m, x.data() + r0 * in, g, part.data() + r0 * out, &one, isa);
        }
        ASSERT_EQ(0, std::memcmp(all.data(), part.data(), all.size() * sizeof(float)))
            << isa_name(isa) << " " << dtype_name(t) << ", groups of " << group << ", seed " << seed;
      }
    }
}

// The largest products the int8 dot products can meet: every weight at its largest magnitude
// (nibbles 15, 5th and 6th bits set, Q8_0 q = -128) against activations all at +-127. Without VNNI,
// vpmaddubsw adds pairs of products into int16 with saturation and the AVX2 kernels add several
// steps in int16 before widening; any overflow or saturation would show against the reference.
TEST(KernelsPacked, LargestProductsDoNotOverflow) {
  AX_SKIP_UNLESS_TIER(have_packed(), "avx2");
  ThreadPool pool(2);
  for (Isa isa : packed_tiers())
    for (DType t : {DType::Q8_0, DType::Q4_0, DType::MXFP4, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
      if (!tier_packs(isa, t)) continue;
      const int64_t out = 32, in = 512;
      // The largest stored values: Q8_0 -128, 4-bit codes 15; MXFP4 code 7 (6.0, looked up as 24).
      std::vector<uint8_t> w(row_bytes(t, in) * out, t == DType::Q8_0 ? 0x80 : t == DType::MXFP4 ? 0x77 : 0xff);
      const auto& info = dtype_info(t);
      for (size_t b = 0; b < w.size(); b += info.type_size) {  // scales: small and positive
        uint8_t* blk = w.data() + b;
        if (t == DType::MXFP4) {
          blk[0] = 118;  // 2^-10
        } else if (t == DType::Q6_K) {
          put_half(blk + 208, 1e-3f);
          std::memset(blk + 192, 127, 16);  // the largest signed scales
        } else {
          put_half(blk, 1e-3f);
          if (t == DType::Q4_K || t == DType::Q5_K) put_half(blk + 2, 1e-3f);
        }
      }
      const auto m = pack(view_of(t, w, out, in));
      const auto wf = dequantized(t, w, out, in);
      for (float sign : {1.0f, -1.0f}) {
        SCOPED_TRACE(testing::Message() << isa_name(isa) << " " << dtype_name(t) << " x = " << sign);
        const int64_t n = 5;
        const std::vector<float> x(static_cast<size_t>(n * in), sign);
        std::vector<float> y(static_cast<size_t>(n * out), std::nanf(""));
        matmul_packed(*m, x.data(), n, y.data(), &pool, isa);
        expect_matches_reference(wf, wf, out, in, x, activation_view(t, x), y, n);
        if (testing::Test::HasFatalFailure()) return;
      }
    }
}

// Every tier does each lane's integer and float steps exactly as the others (packed_avx2_body.inc):
// the same weights and x give the same bits on AVX2, AVX2 + AVX-VNNI, AVX-512 VNNI and AMX, so a
// request's tokens do not depend on the CPU that served it. Row counts cover one row (both halves
// of a tile per block on AVX2), the 4-row tiles and their remainders, and AMX's 32-row chunks.
TEST(KernelsPacked, EveryTierGivesTheSameBits) {
  const std::vector<Isa> tiers = packed_tiers();  // a required tier this CPU lacks has failed here
  if (tiers.size() < 2) GTEST_SKIP() << "fewer than two packed tiers on this CPU: nothing to compare";
  const uint32_t seed = fresh_seed();
  std::mt19937 rng(seed);
  ThreadPool pool(2);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (DType t : kPackedTypes) {
    if (!std::all_of(tiers.begin(), tiers.end(), [t](Isa isa) { return tier_packs(isa, t); })) continue;
    const int64_t out = 48, in = 4 * 256;
    const auto w = random_weights(t, out, in, rng);
    const auto m = pack(view_of(t, w, out, in));
    for (int64_t n : {1, 2, 6, 37}) {
      SCOPED_TRACE(testing::Message() << dtype_name(t) << " n=" << n << " seed=" << seed);
      std::vector<float> x(static_cast<size_t>(n * in));
      for (auto& v : x) v = normal(rng) * (1 + static_cast<float>(rng() % 8));
      std::vector<float> first(static_cast<size_t>(n * out), std::nanf("")), y(first.size());
      matmul_packed(*m, x.data(), n, first.data(), &pool, tiers[0]);
      for (float v : first) ASSERT_FALSE(std::isnan(v));
      for (size_t i = 1; i < tiers.size(); ++i) {
        std::fill(y.begin(), y.end(), std::nanf(""));
        matmul_packed(*m, x.data(), n, y.data(), &pool, tiers[i]);
        ASSERT_EQ(0, std::memcmp(first.data(), y.data(), y.size() * sizeof(float)))
            << isa_name(tiers[i]) << " against " << isa_name(tiers[0]);
      }
    }
  }
}

// Where the CPU has AMX tiles, calls of 32+ rows run on them: every row is bit for bit what the VNNI
// kernels give (so decode and prefill still agree), for whole tiles, two-tile chunks and the rows
// past the last whole tile.
TEST(KernelsPacked, AmxTilesGiveTheVnniResultsBitForBit) {
  AX_SKIP_UNLESS_TIER(packed_amx_kernels() != nullptr, "amx");
  const uint32_t seed = fresh_seed();
  std::mt19937 rng(seed);
  ThreadPool pool(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::MXFP4, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    const int64_t out = 80, in = 4 * 256;
    const auto w = random_weights(t, out, in, rng);
    const auto m = pack(view_of(t, w, out, in));
    for (int64_t n : {32, 48, 71, 96}) {
      SCOPED_TRACE(testing::Message() << dtype_name(t) << " n=" << n << " seed=" << seed);
      std::vector<float> x(static_cast<size_t>(n * in));
      for (auto& v : x) v = normal(rng) * (1 + static_cast<float>(rng() % 8));
      std::vector<float> amx(static_cast<size_t>(n * out), std::nanf("")), vnni(amx.size(), std::nanf(""));
      set_amx_enabled(true);
      matmul_packed(*m, x.data(), n, amx.data(), &pool, Isa::Avx512);
      set_amx_enabled(false);
      matmul_packed(*m, x.data(), n, vnni.data(), &pool, Isa::Avx512);
      set_amx_enabled(true);
      for (float v : amx) ASSERT_FALSE(std::isnan(v));
      ASSERT_EQ(0, std::memcmp(amx.data(), vnni.data(), amx.size() * sizeof(float)));
    }
  }
}

// q/k/v and gate/up run as one pass over their matrices (one quantization of x, one dispatch): every
// output is bit for bit what the matrix gives alone.
TEST(KernelsPacked, SeveralMatricesInOnePassEqualOneAtATime) {
  AX_SKIP_UNLESS_TIER(have_packed(), "avx2");
  const uint32_t seed = fresh_seed();
  std::mt19937 rng(seed);
  ThreadPool pool(2);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const std::vector<std::vector<std::pair<DType, int64_t>>> sets = {
      {{DType::Q4_K, 48}, {DType::Q6_K, 32}, {DType::Q5_K, 16}},  // a Q4_K_M q/k/v
      {{DType::Q8_0, 32}, {DType::Q4_0, 16}, {DType::MXFP4, 16}},  // x in blocks of 32 for all three
      {{DType::F16, 48}, {DType::BF16, 16}, {DType::F32, 32}}};
  const int64_t in = 512;
  for (Isa isa : packed_tiers())
  for (const auto& set : sets) {
    if (!std::all_of(set.begin(), set.end(), [isa](const auto& p) { return tier_packs(isa, p.first); })) continue;
    std::vector<std::vector<uint8_t>> w;
    std::vector<std::unique_ptr<PackedMatrix>> m;
    for (const auto& [t, out] : set) {
      w.push_back(random_weights(t, out, in, rng));
      m.push_back(pack(view_of(t, w.back(), out, in)));
    }
    for (int64_t n : {1, 4, 7}) {
      SCOPED_TRACE(testing::Message() << isa_name(isa) << " " << dtype_name(set[0].first) << " set, n=" << n << " seed=" << seed);
      std::vector<float> x(static_cast<size_t>(n * in));
      for (auto& v : x) v = normal(rng);
      std::vector<std::vector<float>> alone, together;
      std::vector<const PackedMatrix*> ms;
      std::vector<float*> ys;
      for (size_t i = 0; i < set.size(); ++i) {
        alone.emplace_back(static_cast<size_t>(n * set[i].second));
        together.emplace_back(static_cast<size_t>(n * set[i].second), std::nanf(""));
        matmul_packed(*m[i], x.data(), n, alone.back().data(), &pool, isa);
        ms.push_back(m[i].get());
        ys.push_back(together.back().data());
      }
      matmul_packed_many(ms.data(), ys.data(), static_cast<int>(ms.size()), x.data(), n, &pool, isa);
      for (size_t i = 0; i < set.size(); ++i)
        ASSERT_EQ(0, std::memcmp(alone[i].data(), together[i].data(), alone[i].size() * sizeof(float))) << "matrix " << i;
    }
  }
  // Matrices that read x in different forms cannot share it.
  std::vector<uint8_t> wq = random_weights(DType::Q4_K, 16, in, rng), w8 = random_weights(DType::Q8_0, 16, in, rng);
  const auto q4k = pack(view_of(DType::Q4_K, wq, 16, in)), q80 = pack(view_of(DType::Q8_0, w8, 16, in));
  EXPECT_FALSE(can_share_acts(*q4k, *q80));
  const PackedMatrix* mixed[] = {q4k.get(), q80.get()};
  std::vector<float> x(in, 1.0f), y0(16), y1(16);
  float* ys[] = {y0.data(), y1.data()};
  EXPECT_THROW(matmul_packed_many(mixed, ys, 2, x.data(), 1, &pool, Isa::Avx2), ax::Error);
}

// A model's weights are packed into one buffer in the order listed (the order decode reads them);
// a weight listed twice (tied embeddings) is packed once; what cannot be packed gets no copy.
TEST(KernelsPacked, WeightsPackedTogetherLieInListedOrder) {
  SKIP_UNLESS_ENGINE_PACKS();
  const uint32_t seed = fresh_seed();
  std::mt19937 rng(seed);
  const auto a = random_weights(DType::Q4_K, 32, 256, rng), b = random_weights(DType::Q6_K, 16, 512, rng),
             c = random_weights(DType::Q4_K, 24, 256, rng);  // 24 rows: not packable
  const auto va = view_of(DType::Q4_K, a, 32, 256), vb = view_of(DType::Q6_K, b, 16, 512), vc = view_of(DType::Q4_K, c, 24, 256);
  const auto handles = pack_linears({&vb, &va, &vc, &vb});
  ASSERT_EQ(handles.size(), 4u);
  ASSERT_NE(handles[0], nullptr);
  ASSERT_NE(handles[1], nullptr);
  EXPECT_EQ(handles[2], nullptr);
  EXPECT_EQ(handles[3], handles[0]);
  EXPECT_EQ(handles[0]->storage, handles[1]->storage);
  EXPECT_EQ(handles[1]->data, handles[0]->data + (packed_bytes(vb) + 63) / 64 * 64);  // right after b
  std::vector<uint8_t> row(row_bytes(DType::Q4_K, 256));
  for (int64_t o = 0; o < 32; ++o) {
    unpack_row(*handles[1], o, row.data());
    ASSERT_EQ(0, std::memcmp(row.data(), a.data() + o * row.size(), row.size())) << "row " << o << " seed " << seed;
  }
}

// The CPU backend owns the packed copies of the weights it loads: its linear() runs them, with the
// same result as the packed kernel called directly, and close to the per-row kernels on the stored
// layout (which sum in another order).
TEST(KernelsPacked, CpuBackendRunsThePackedCopyOfWhatItLoads) {
  SKIP_UNLESS_ENGINE_PACKS();
  const uint32_t seed = fresh_seed();
  std::mt19937 rng(seed);
  const int64_t out = 32, in = 256, n = 3;
  const auto w = random_weights(DType::Q4_K, out, in, rng);
  const auto v = view_of(DType::Q4_K, w, out, in);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n * in));
  for (auto& f : x) f = normal(rng);
  std::vector<float> unpacked(static_cast<size_t>(n * out)), packed(unpacked.size()), direct(unpacked.size());
  ASSERT_TRUE(matmul(DType::Q4_K, w.data(), out, in, x.data(), n, unpacked.data()));  // per-row kernels
  auto be = make_cpu_backend({});
  const auto weights = be->load_linears({&v, &v});
  ASSERT_EQ(weights.size(), 2u);
  const PackedMatrix* m = packed_matrix(*weights[0]);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(packed_matrix(*weights[1]), m);  // listed twice, packed once
  be->linear(*weights[0], Tensor{x.data(), n, in}, Tensor{packed.data(), n, out});
  matmul_packed(*m, x.data(), n, direct.data());
  EXPECT_EQ(0, std::memcmp(packed.data(), direct.data(), packed.size() * sizeof(float)));
  for (size_t i = 0; i < packed.size(); ++i) ASSERT_NEAR(packed[i], unpacked[i], 1e-4f * (1 + std::fabs(unpacked[i])));
}

}  // namespace
}  // namespace ax::cpu::kernels
