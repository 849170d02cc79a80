// kernels::attention against a double-precision two-pass softmax on random paged K/V, float32 and
// f16 caches (for f16 the reference reads the same rounded values: converting back is exact).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <cstring>
#include <vector>

#include "backend/cpu/kernels/kernels.h"
#include "backend/required_tiers.h"
#include "util/half.h"
#include "util/thread_pool.h"

namespace ax::cpu::kernels {
namespace {

struct AttnCase {
  int64_t T, start_pos, heads, kv_heads, hd, window, block_size;
  float q_scale = 2.0f;
};

// The strides of a pool of table.size() blocks of bs positions x kv_heads heads x hd values, in one
// of three layouts: 0 = each kv head's blocks side by side ([kv head][block][slot][dim], KvCache's),
// 1 = head-major blocks ([block][kv head][slot][dim]), 2 = position-major ([block][slot][kv head][dim]).
PagedKvView layout(int which, const std::vector<int32_t>& table, int64_t bs, int64_t kv_heads, int64_t hd) {
  PagedKvView p;
  p.block_table = table.data();
  p.block_size = bs;
  const int64_t nblocks = static_cast<int64_t>(table.size());
  p.block_stride = which == 0 ? bs * hd : bs * kv_heads * hd;
  p.head_stride = which == 0 ? nblocks * bs * hd : which == 1 ? bs * hd : hd;
  p.slot_stride = which == 2 ? kv_heads * hd : hd;
  return p;
}

// k and v rounded to f16 in place (k16/v16 get the halves), or left as they are: the view on them.
PagedKvView cache_view(std::vector<float>& k, std::vector<float>& v, bool f16, std::vector<uint16_t>& k16,
                   std::vector<uint16_t>& v16, PagedKvView p) {
  if (!f16) {
    p.k = k.data();
    p.v = v.data();
    return p;
  }
  k16.resize(k.size());
  v16.resize(v.size());
  for (size_t i = 0; i < k.size(); ++i) {
    k16[i] = f32_to_fp16(k[i]);
    v16[i] = f32_to_fp16(v[i]);
    k[i] = fp16_to_f32(k16[i]);
    v[i] = fp16_to_f32(v16[i]);
  }
  p.k16 = k16.data();
  p.v16 = v16.data();
  return p;
}

// Every kernel tier this CPU can run (the AVX2 tier runs ymm, the AVX-512 tier zmm).
std::vector<Isa> supported_isas() { return tiers_to_test({Isa::Scalar, Isa::Avx2, Isa::Avx512}); }

void check(const AttnCase& c, uint32_t seed, Isa isa, bool f16) {
  const int which = static_cast<int>(seed % 3);  // every layout, whichever the seed picks per case
  SCOPED_TRACE(testing::Message() << isa_name(isa) << (f16 ? " f16" : " f32") << " layout " << which << " T=" << c.T << " start=" << c.start_pos << " heads=" << c.heads << "/"
                                  << c.kv_heads << " hd=" << c.hd << " window=" << c.window << " seed=" << seed);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t len = c.start_pos + c.T;
  const int64_t nblocks = (len + c.block_size - 1) / c.block_size + 3;
  const int64_t kv_stride = c.kv_heads * c.hd;
  // Blocks of the sequence in shuffled order inside a larger pool.
  std::vector<int32_t> table(nblocks);
  std::iota(table.begin(), table.end(), 0);
  std::shuffle(table.begin(), table.end(), rng);
  std::vector<float> k(nblocks * c.block_size * kv_stride), v(k.size());
  for (auto& f : k) f = normal(rng);
  for (auto& f : v) f = normal(rng);
  std::vector<uint16_t> k16, v16;
  const PagedKvView kv = cache_view(k, v, f16, k16, v16, layout(which, table, c.block_size, c.kv_heads, c.hd));
  const int64_t q_stride = c.heads * c.hd + 5;  // strides need not be the packed width
  std::vector<float> q(c.T * q_stride);
  for (auto& f : q) f = c.q_scale * normal(rng);
  const int64_t out_stride = c.heads * c.hd + 3;
  std::vector<float> out(c.T * out_stride, std::nanf(""));
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.hd));
  ThreadPool pool(2);
  attention({.q = q.data(), .q_stride = q_stride, .T = c.T, .start_pos = c.start_pos, .num_heads = c.heads,
             .num_kv_heads = c.kv_heads, .head_dim = c.hd, .scale = scale, .window = c.window, .kv = kv,
             .out = out.data(), .out_stride = out_stride},
            &pool, isa);
  auto row = [&](const std::vector<float>& m, int64_t j, int64_t g) {  // kv head g of position j
    return m.data() + table[j / c.block_size] * kv.block_stride + g * kv.head_stride + j % c.block_size * kv.slot_stride;
  };
  const int64_t group = c.heads / c.kv_heads;
  for (int64_t t = 0; t < c.T; ++t) {
    const int64_t pos = c.start_pos + t;
    const int64_t first = c.window > 0 ? std::max<int64_t>(0, pos - c.window + 1) : 0;
    for (int64_t h = 0; h < c.heads; ++h) {
      const int64_t kvh = h / group;
      std::vector<double> s;
      for (int64_t j = first; j <= pos; ++j) {
        double d = 0;
        for (int64_t i = 0; i < c.hd; ++i) d += static_cast<double>(q[t * q_stride + h * c.hd + i]) * row(k, j, kvh)[i];
        s.push_back(d * scale);
      }
      const double mx = *std::max_element(s.begin(), s.end());
      double sum = 0;
      for (auto& x : s) sum += (x = std::exp(x - mx));
      for (int64_t i = 0; i < c.hd; ++i) {
        double want = 0;
        for (int64_t j = first; j <= pos; ++j) want += s[j - first] / sum * row(v, j, kvh)[i];
        ASSERT_NEAR(out[t * out_stride + h * c.hd + i], want, 2e-5) << "t=" << t << " h=" << h << " i=" << i;
      }
    }
  }
}

TEST(KernelsAttention, MatchesTwoPassSoftmax) {
  const uint32_t seed = std::random_device{}();
  for (Isa isa : supported_isas())
    for (bool f16 : {false, true}) {
      // decode (T=1) and prefill chunks; GQA groups 1, 2, 4; windows; more keys than one 64-key chunk
      check({1, 0, 4, 4, 64, 0, 16}, seed, isa, f16);
      check({1, 150, 16, 8, 128, 0, 16}, seed + 1, isa, f16);
      check({7, 60, 8, 2, 64, 0, 16}, seed + 2, isa, f16);
      check({20, 100, 4, 2, 32, 33, 8}, seed + 3, isa, f16);
      check({3, 5, 2, 1, 24, 0, 4}, seed + 4, isa, f16);   // head_dim not a multiple of 16 (nor of 8)
      check({5, 40, 4, 2, 96, 0, 16}, seed + 5, isa, f16);  // 96: one zmm slice of 64 and a 32-value rest
      check({53, 70, 8, 2, 64, 0, 16}, seed + 6, isa, f16);  // several work items per kv head
      // past kAttnSegment (1024) keys: a decode's segments as items of their own (2 kv heads, fewer
      // items than 2 x threads) or one after the other (8 kv heads); a prefill across a segment end
      check({1, 2100, 8, 2, 64, 0, 16}, seed + 7, isa, f16);
      check({1, 1500, 16, 8, 128, 0, 16}, seed + 8, isa, f16);
      check({30, 2030, 4, 2, 32, 0, 16}, seed + 9, isa, f16);
    }
}

// Peaked attention: large scores, so the running maximum jumps late in a chunk and the online
// softmax must rescale what it has accumulated (prefill of a whole prompt, Qwen3-0.6B head shape).
TEST(KernelsAttention, PeakedScoresRescaleCorrectly) {
  const uint32_t seed = std::random_device{}();
  for (Isa isa : supported_isas())
    for (float q_scale : {6.0f, 12.0f}) {
      check({36, 0, 16, 8, 128, 0, 16, q_scale}, seed, isa, false);
      check({40, 0, 4, 2, 64, 0, 16, q_scale}, seed + 1, isa, true);
      check({70, 10, 4, 1, 32, 0, 8, q_scale}, seed + 2, isa, q_scale > 10);
    }
}

// A token's output does not depend on the other tokens of the call (prefill tiles share K/V loads
// between consecutive tokens, and one-token calls past 1024 keys run their key segments as
// separate items): one call over T tokens equals T one-token calls and calls of 2, 5 and 26 tokens,
// bit for bit, for head sizes with and without the vector paths' tails.
TEST(KernelsAttention, TokensAreBitIdenticalWhateverTheCall) {
  const uint32_t seed = std::random_device{}();
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  struct Shape {
    int64_t heads, kv_heads, hd, start, T, window;
  };
  for (Isa isa : supported_isas())
  for (bool f16 : {false, true})
  for (const Shape& c : {Shape{16, 8, 128, 0, 70, 0}, Shape{6, 2, 64, 37, 33, 0}, Shape{3, 1, 24, 5, 20, 0},
                         Shape{8, 4, 8, 130, 17, 0}, Shape{4, 2, 32, 60, 25, 16}, Shape{4, 2, 96, 3, 19, 0},
                         Shape{4, 2, 64, 990, 60, 0}, Shape{2, 1, 128, 2040, 30, 0}}) {
    SCOPED_TRACE(testing::Message() << isa_name(isa) << (f16 ? " f16" : " f32") << " heads " << c.heads << "/" << c.kv_heads << " hd " << c.hd << " start "
                                    << c.start << " T " << c.T << " window " << c.window << " seed " << seed);
    const int64_t bs = 16, len = c.start + c.T, nblocks = (len + bs - 1) / bs, kv_stride = c.kv_heads * c.hd;
    std::vector<int32_t> table(nblocks);
    std::iota(table.begin(), table.end(), 0);
    std::shuffle(table.begin(), table.end(), rng);
    std::vector<float> k(nblocks * bs * kv_stride), v(k.size()), q(c.T * c.heads * c.hd);
    for (auto* vec : {&k, &v, &q})
      for (auto& f : *vec) f = 3.0f * normal(rng);
    const int64_t width = c.heads * c.hd;
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.hd));
    std::vector<uint16_t> k16, v16;
    const PagedKvView kv = cache_view(k, v, f16, k16, v16, layout(f16 ? 0 : 2, table, bs, c.kv_heads, c.hd));
    ThreadPool pool(2);
    std::vector<float> all(c.T * width), part(c.T * width);
    auto call = [&](int64_t t0, int64_t n, float* out) {
      attention({.q = q.data() + t0 * width, .q_stride = width, .T = n, .start_pos = c.start + t0,
                 .num_heads = c.heads, .num_kv_heads = c.kv_heads, .head_dim = c.hd, .scale = scale,
                 .window = c.window, .kv = kv, .out = out + t0 * width, .out_stride = width},
                &pool, isa);
    };
    call(0, c.T, all.data());
    for (int64_t step : {1, 2, 5, 26}) {
      for (int64_t t = 0; t < c.T; t += step) call(t, std::min(step, c.T - t), part.data());
      ASSERT_EQ(0, std::memcmp(all.data(), part.data(), all.size() * sizeof(float))) << "calls of " << step;
    }
  }
}

}  // namespace
}  // namespace ax::cpu::kernels
