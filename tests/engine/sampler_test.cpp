// The sampler: each transform's effect, determinism per seed, and the frequencies of its draws
// against the distribution computed independently here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "engine/sampler.h"
#include "util/error.h"
#include "test_support.h"

namespace ax {
namespace {

using test::Rand;

std::vector<double> softmax_ref(const std::vector<float>& logits, double temperature) {
  double mx = -1e300;
  for (float l : logits) mx = std::max(mx, l / temperature);
  std::vector<double> p(logits.size());
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) sum += p[i] = std::exp(logits[i] / temperature - mx);
  for (auto& x : p) x /= sum;
  return p;
}

// Pearson's chi-square of observed counts against expected probabilities (cells with p == 0 must
// have no draws at all).
double chi_square(const std::vector<int64_t>& counts, const std::vector<double>& p, int64_t n) {
  double chi = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " has probability 0 but was drawn";
      continue;
    }
    const double e = p[i] * n;
    chi += (counts[i] - e) * (counts[i] - e) / e;
  }
  return chi;
}

std::vector<int64_t> draw_counts(const SamplingParams& sp, const std::vector<float>& logits, int64_t n) {
  Sampler s(sp, static_cast<int64_t>(logits.size()));
  std::vector<int64_t> counts(logits.size());
  for (int64_t i = 0; i < n; ++i) ++counts[s.sample(logits.data())];
  return counts;
}

TEST(Sampler, FrequenciesMatchTemperatureSoftmax) {
  Rand r;
  SCOPED_TRACE(::testing::Message() << "seed " << r.seed);
  auto logits = r.normal(8, 1.5f);
  SamplingParams sp;
  sp.temperature = 0.7f;
  sp.seed = r.gen();
  const int64_t n = 40000;
  auto counts = draw_counts(sp, logits, n);
  // 7 degrees of freedom: P(chi2 > 35) < 1e-5, so a correct sampler fails this about never.
  EXPECT_LT(chi_square(counts, softmax_ref(logits, 0.7), n), 35.0);
}

TEST(Sampler, FrequenciesMatchTopKTopPMinPDistribution) {
  Rand r;
  SCOPED_TRACE(::testing::Message() << "seed " << r.seed);
  auto logits = r.normal(12, 1.0f);
  SamplingParams sp;
  sp.temperature = 1.3f;
  sp.top_k = 9;
  sp.top_p = 0.8f;
  sp.min_p = 0.1f;
  sp.seed = r.gen();
  // Expected: softmax over the top 9, shortest prefix reaching 0.8, then drop < 0.1 * max.
  auto p = softmax_ref(logits, 1.3);
  std::vector<int> idx(12);
  for (int i = 0; i < 12; ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](int a, int b) { return p[a] > p[b]; });
  std::vector<double> q(12, 0.0);
  double mass = 0;
  for (int i = 0; i < 9; ++i) mass += p[idx[i]];
  double cum = 0;
  for (int i = 0; i < 9; ++i) {
    q[idx[i]] = p[idx[i]] / mass;
    cum += q[idx[i]];
    if (cum >= 0.8) break;
  }
  const double qmax = q[idx[0]];
  for (auto& x : q)
    if (x < 0.1 * qmax) x = 0;
  double total = 0;
  for (double x : q) total += x;
  for (auto& x : q) x /= total;

  Sampler s(sp, 12);
  const auto& dist = s.distribution(logits.data());
  for (int i = 0; i < 12; ++i) EXPECT_NEAR(dist[i], q[i], 1e-5) << "token " << i;

  const int64_t n = 40000;
  auto counts = draw_counts(sp, logits, n);
  int df = -1;
  for (double x : q) df += x > 0;
  // Bound well above the 1e-5 tail for df <= 8.
  EXPECT_LT(chi_square(counts, q, n), 40.0) << "df " << df;
}

TEST(Sampler, TopPOverLargeVocabularyKeepsTheFullSortPrefix) {
  // Flat logits spread the mass over thousands of tokens, so the nucleus reaches far past the
  // first partially sorted chunk; ties in the logits check the lower-id-first rule.
  Rand r;
  SCOPED_TRACE(::testing::Message() << "seed " << r.seed);
  const int64_t V = 6000;
  auto logits = r.normal(V, 0.3f);
  for (int i = 0; i < 50; ++i) logits[r.gen() % V] = logits[r.gen() % V];  // some exact ties
  auto full = softmax_ref(logits, 1.0);
  std::vector<int> idx(V);
  for (int i = 0; i < V; ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](int a, int b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  std::vector<double> cum(V);
  for (int i = 0; i < V; ++i) cum[i] = (i ? cum[i - 1] : 0.0) + full[idx[i]];
  // top_p halfway between two cumulative sums, so rounding cannot move the cut: keep exactly k.
  for (int k : {7, 300, 4000}) {
    const float top_p = static_cast<float>((cum[k - 2] + cum[k - 1]) / 2);
    SamplingParams sp;
    sp.top_p = top_p;
    Sampler s(sp, V);
    const auto& p = s.distribution(logits.data());
    std::vector<bool> in(V, false);
    for (int i = 0; i < k; ++i) in[idx[i]] = true;
    for (int i = 0; i < V; ++i) {
      if (in[i]) {
        ASSERT_NEAR(p[i], full[i] / cum[k - 1], 1e-6) << "keep " << k << " token " << i;
      } else {
        ASSERT_EQ(p[i], 0.0f) << "keep " << k << " token " << i;
      }
    }
  }
}

TEST(Sampler, SameSeedSameTokensAndSeedMatters) {
  Rand r;
  SCOPED_TRACE(::testing::Message() << "seed " << r.seed);
  auto logits = r.normal(50, 0.5f);
  SamplingParams sp;
  sp.seed = r.gen();
  Sampler a(sp, 50), b(sp, 50);
  std::vector<int32_t> ta, tb;
  for (int i = 0; i < 200; ++i) {
    ta.push_back(a.sample(logits.data()));
    tb.push_back(b.sample(logits.data()));
  }
  EXPECT_EQ(ta, tb);
  sp.seed += 1;
  Sampler c(sp, 50);
  std::vector<int32_t> tc;
  for (int i = 0; i < 200; ++i) tc.push_back(c.sample(logits.data()));
  EXPECT_NE(ta, tc);
}

TEST(Sampler, GreedyPicksArgmaxWithLowestIdOnTies) {
  Rand r;
  auto logits = r.normal(30);
  SamplingParams sp;
  sp.temperature = 0;
  Sampler s(sp, 30);
  int32_t best = 0;
  for (int i = 1; i < 30; ++i)
    if (logits[i] > logits[best]) best = i;
  EXPECT_EQ(s.sample(logits.data()), best);
  EXPECT_EQ(s.probabilities()[best], 1.0f);
  logits[3] = logits[17] = 100.0f;
  EXPECT_EQ(s.sample(logits.data()), 3);
}

TEST(Sampler, TopKOneIsGreedyAndTinyTopPKeepsOneToken) {
  Rand r;
  SCOPED_TRACE(::testing::Message() << "seed " << r.seed);
  auto logits = r.normal(40);
  int32_t best = 0;
  for (int i = 1; i < 40; ++i)
    if (logits[i] > logits[best]) best = i;
  SamplingParams k1;
  k1.top_k = 1;
  k1.temperature = 5.0f;
  k1.seed = r.gen();
  SamplingParams p0 = k1;
  p0.top_k = 0;
  p0.top_p = 1e-6f;
  Sampler a(k1, 40), b(p0, 40);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(a.sample(logits.data()), best);
    EXPECT_EQ(b.sample(logits.data()), best);
  }
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
  std::vector<float> logits = {2.0f, 1.9f, 0.0f, -3.0f};  // p ratios to max: 1, .905, .135, .0067
  SamplingParams sp;
  sp.min_p = 0.2f;
  Sampler s(sp, 4);
  const auto& p = s.distribution(logits.data());
  EXPECT_GT(p[0], 0);
  EXPECT_GT(p[1], 0);
  EXPECT_EQ(p[2], 0);
  EXPECT_EQ(p[3], 0);
  EXPECT_NEAR(p[0] + p[1], 1.0, 1e-6);
  EXPECT_NEAR(p[0] / p[1], std::exp(0.1), 1e-5);
}

TEST(Sampler, RepetitionPenaltyLowersSeenTokens) {
  std::vector<float> logits = {1.0f, 1.0f, -1.0f, -1.0f};
  SamplingParams sp;
  sp.temperature = 0;
  sp.repetition_penalty = 2.0f;
  Sampler s(sp, 4);
  EXPECT_EQ(s.sample(logits.data()), 0);  // tie -> lowest id
  const int32_t ctx[] = {0};
  s.add_context(ctx);
  EXPECT_EQ(s.sample(logits.data()), 1);  // token 0 is now 0.5
  sp.temperature = 1.0f;
  Sampler t(sp, 4);
  t.add_context(ctx);
  const int32_t more[] = {2};
  t.add_context(more);
  const auto& p = t.distribution(logits.data());
  // logits become 0.5, 1, -2, -1
  auto q = softmax_ref({0.5f, 1.0f, -2.0f, -1.0f}, 1.0);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(p[i], q[i], 1e-6);
}

TEST(Sampler, PresenceFrequencyPenaltiesAndLogitBias) {
  std::vector<float> logits = {0.0f, 0.0f, 0.0f};
  SamplingParams sp;
  sp.presence_penalty = 0.5f;
  sp.frequency_penalty = 0.25f;
  sp.logit_bias = {{2, 1.0f}};
  Sampler s(sp, 3);
  s.accept(0);
  s.accept(0);
  s.accept(1);
  // logits: 0 - 0.5 - 0.5 = -1, 0 - 0.5 - 0.25 = -0.75, 0 + 1 = 1
  const auto& p = s.distribution(logits.data());
  auto q = softmax_ref({-1.0f, -0.75f, 1.0f}, 1.0);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(p[i], q[i], 1e-6);
}

TEST(Sampler, PickIsInverseCdfInIdOrder) {
  std::vector<float> logits = {0.0f, 0.0f, 0.0f, 0.0f};
  SamplingParams sp;
  Sampler s(sp, 4);
  s.distribution(logits.data());
  EXPECT_EQ(s.pick(0.0), 0);
  EXPECT_EQ(s.pick(0.26), 1);
  EXPECT_EQ(s.pick(0.74), 2);
  EXPECT_EQ(s.pick(0.999999), 3);
}

TEST(Sampler, RejectsBadParameters) {
  SamplingParams sp;
  sp.top_p = 0.0f;
  EXPECT_THROW(Sampler(sp, 10), Error);
  sp = {};
  sp.temperature = -1;
  EXPECT_THROW(Sampler(sp, 10), Error);
  sp = {};
  sp.logit_bias = {{10, 1.0f}};
  EXPECT_THROW(Sampler(sp, 10), Error);
  sp = {};
  sp.repetition_penalty = 0;
  EXPECT_THROW(Sampler(sp, 10), Error);
}

}  // namespace
}  // namespace ax
