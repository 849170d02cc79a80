// Exactness of draft verification. At the level of one probability vector: accepting x happens
// with probability p(x) and the replacement has the law of p without x, renormalised. At the level
// of generated sequences: sampling with speculation (any drafter, however bad) gives the model's
// joint distribution, checked by chi-square over many seeds against the exact probabilities.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "engine/spec_verify.h"
#include "test_support.h"

namespace ax {
namespace {

using test::fresh_seed;

// Upper quantile of chi-square with df degrees of freedom at about 1e-6 (Wilson-Hilferty with
// z = 4.75): a correct implementation fails one run in a million.
double chi2_bound(int df) {
  const double z = 4.75, a = 2.0 / (9.0 * df);
  return df * std::pow(1 - a + z * std::sqrt(a), 3);
}

// Pearson chi-square of counts against expected probabilities (cells with expectation < 5 are
// pooled into one). Returns {statistic, degrees of freedom}.
std::pair<double, int> chi2(const std::vector<int64_t>& counts, const std::vector<double>& probs, int64_t n) {
  double stat = 0, pooled_obs = 0, pooled_exp = 0;
  int cells = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    const double e = probs[i] * n;
    if (e < 5) {
      pooled_obs += counts[i];
      pooled_exp += e;
      if (e == 0) EXPECT_EQ(counts[i], 0) << "cell " << i << " has probability 0";
      continue;
    }
    stat += (counts[i] - e) * (counts[i] - e) / e;
    ++cells;
  }
  if (pooled_exp >= 5) {
    stat += (pooled_obs - pooled_exp) * (pooled_obs - pooled_exp) / pooled_exp;
    ++cells;
  }
  return {stat, cells - 1};
}

// A random distribution shaped like a sampler's output: a few heavy tokens, a long tail, and
// tokens cut to exactly zero (as top-k / top-p / min-p do).
std::vector<float> random_distribution(std::mt19937_64& rng, int vocab) {
  std::vector<float> p(vocab);
  std::exponential_distribution<float> e(1.0f);
  float sum = 0;
  for (auto& v : p) {
    v = std::pow(e(rng), 3.0f);
    if (rng() % 4 == 0) v = 0;
    sum += v;
  }
  if (sum == 0) p[0] = sum = 1;
  for (auto& v : p) v /= sum;
  return p;
}

TEST(SpecVerify, InverseCdfPicksTheIntervalHoldingU) {
  const std::vector<float> p{0.0f, 0.25f, 0.0f, 0.5f, 0.25f};
  EXPECT_EQ(sample_inverse_cdf(p, 0.0), 1);
  EXPECT_EQ(sample_inverse_cdf(p, 0.2499), 1);
  EXPECT_EQ(sample_inverse_cdf(p, 0.25), 3);
  EXPECT_EQ(sample_inverse_cdf(p, 0.7499), 3);
  EXPECT_EQ(sample_inverse_cdf(p, 0.75), 4);
  EXPECT_EQ(sample_inverse_cdf(p, std::nextafter(1.0, 0.0)), 4);
  EXPECT_THROW(sample_inverse_cdf(std::vector<float>{0.0f, 0.0f}, 0.5), std::exception);
  EXPECT_THROW(verify_point_mass(p, 5, 0.5), std::exception);
}

TEST(SpecVerify, PointMassRuleAcceptsWithPxAndReplacesFromTheResidual) {
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  for (int trial = 0; trial < 6; ++trial) {
    const int vocab = 8 + static_cast<int>(rng() % 40);
    const std::vector<float> p = random_distribution(rng, vocab);
    // Drafts both likely and impossible tokens.
    int32_t x = static_cast<int32_t>(rng() % vocab);
    if (trial == 0) x = static_cast<int32_t>(std::max_element(p.begin(), p.end()) - p.begin());
    const int64_t n = 200000;
    int64_t accepted = 0;
    std::vector<int64_t> emitted(vocab, 0), replaced(vocab, 0);
    for (int64_t i = 0; i < n; ++i) {
      const PointMassVerdict v = verify_point_mass(p, x, unif(rng));
      ++emitted[v.token];
      if (v.accepted) {
        ASSERT_EQ(v.token, x);
        ++accepted;
      } else {
        ASSERT_NE(v.token, x);
        ++replaced[v.token];
      }
    }
    // Acceptance ~ Binomial(n, p(x)): within 5 standard deviations.
    const double px = p[x], sd = std::sqrt(n * px * (1 - px));
    EXPECT_LE(std::abs(accepted - n * px), 5 * sd + 1e-9) << "trial " << trial << " p(x) " << px;
    // Every emitted token together: the law of p.
    std::vector<double> pd(p.begin(), p.end());
    auto [s1, df1] = chi2(emitted, pd, n);
    if (df1 > 0) EXPECT_LT(s1, chi2_bound(df1)) << "trial " << trial;
    // Replacements alone: p without x, renormalised.
    const int64_t rejected = n - accepted;
    if (rejected > 1000) {
      std::vector<double> residual = pd;
      residual[x] = 0;
      for (auto& r : residual) r /= (1 - px);
      auto [s2, df2] = chi2(replaced, residual, rejected);
      if (df2 > 0) EXPECT_LT(s2, chi2_bound(df2)) << "trial " << trial;
    }
  }
}

TEST(SpecVerify, AcceptsTheLongestAgreeingPrefixThenOneMoreToken) {
  std::mt19937_64 rng(fresh_seed());
  for (int trial = 0; trial < 200; ++trial) {
    const int k = static_cast<int>(rng() % 9);
    std::vector<int32_t> model(k + 1), draft(k);
    for (auto& t : model) t = static_cast<int32_t>(rng() % 3);
    for (auto& t : draft) t = static_cast<int32_t>(rng() % 3);
    int calls = 0;
    const VerifyOutcome v = verify_draft(draft, [&](int row, std::span<const int32_t> produced) {
      EXPECT_EQ(row, calls++);
      EXPECT_EQ(std::vector<int32_t>(produced.begin(), produced.end()),
                std::vector<int32_t>(draft.begin(), draft.begin() + row));
      return model[row];
    });
    int lcp = 0;
    while (lcp < k && draft[lcp] == model[lcp]) ++lcp;
    EXPECT_EQ(v.accepted, lcp);
    EXPECT_EQ(calls, lcp + 1);
    ASSERT_EQ(v.emitted.size(), static_cast<size_t>(lcp + 1));
    for (int i = 0; i < lcp; ++i) EXPECT_EQ(v.emitted[i], draft[i]);
    EXPECT_EQ(v.emitted[lcp], model[lcp]);
  }
}

// A toy language model: the next-token law depends on the previous two tokens (a random table),
// so penalties-like context dependence and position both matter. Sampling draws one uniform per
// token, by inverse CDF, from the request's own RNG.
struct ToyModel {
  int vocab;
  std::vector<std::vector<float>> table;  // [vocab * vocab][vocab]
  ToyModel(int v, std::mt19937_64& rng) : vocab(v), table(v * v) {
    for (auto& row : table) row = random_distribution(rng, v);
  }
  const std::vector<float>& next(int32_t a, int32_t b) const { return table[a * vocab + b]; }
};

// Generates `len` tokens after the context {0, 0}. With a drafter, each step drafts some tokens
// (random guesses, sometimes the model's argmax) and verifies them in one go.
std::vector<int32_t> generate(const ToyModel& m, int len, uint64_t seed, std::mt19937_64* drafter_rng) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  std::vector<int32_t> seq{0, 0};
  while (static_cast<int>(seq.size()) < len + 2) {
    if (!drafter_rng) {
      const auto& p = m.next(seq[seq.size() - 2], seq.back());
      seq.push_back(sample_inverse_cdf(p, unif(rng)));
      continue;
    }
    const int k = static_cast<int>((*drafter_rng)() % 5);
    std::vector<int32_t> draft;
    std::vector<int32_t> ctx = seq;
    for (int i = 0; i < k; ++i) {
      const auto& p = m.next(ctx[ctx.size() - 2], ctx.back());
      const int32_t guess = ((*drafter_rng)() % 2)
                                ? static_cast<int32_t>(std::max_element(p.begin(), p.end()) - p.begin())
                                : static_cast<int32_t>((*drafter_rng)() % m.vocab);
      draft.push_back(guess);
      ctx.push_back(guess);
    }
    const VerifyOutcome v = verify_draft(draft, [&](int, std::span<const int32_t> produced) {
      std::vector<int32_t> c = seq;
      c.insert(c.end(), produced.begin(), produced.end());
      return verify_point_mass(m.next(c[c.size() - 2], c.back()), 0, unif(rng)).token;
    });
    seq.insert(seq.end(), v.emitted.begin(), v.emitted.end());
  }
  return {seq.begin() + 2, seq.begin() + 2 + len};
}

TEST(SpecVerify, SpeculativeSamplingHasTheModelsJointDistribution) {
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  const int vocab = 5, len = 3;
  const ToyModel m(vocab, rng);
  // Exact joint law of the first three tokens.
  const int cells = vocab * vocab * vocab;
  std::vector<double> exact(cells, 0);
  for (int a = 0; a < vocab; ++a)
    for (int b = 0; b < vocab; ++b)
      for (int c = 0; c < vocab; ++c)
        exact[(a * vocab + b) * vocab + c] = m.next(0, 0)[a] * m.next(0, a)[b] * m.next(a, b)[c];
  const int64_t n = 100000;
  std::vector<int64_t> plain(cells, 0), spec(cells, 0);
  std::mt19937_64 drafter(rng());
  for (int64_t i = 0; i < n; ++i) {
    const auto s1 = generate(m, len, rng(), nullptr);
    ++plain[(s1[0] * vocab + s1[1]) * vocab + s1[2]];
    const auto s2 = generate(m, len, rng(), &drafter);
    ++spec[(s2[0] * vocab + s2[1]) * vocab + s2[2]];
  }
  auto [sp, dfp] = chi2(plain, exact, n);
  auto [ss, dfs] = chi2(spec, exact, n);
  EXPECT_LT(sp, chi2_bound(dfp)) << "plain sampling";
  EXPECT_LT(ss, chi2_bound(dfs)) << "speculative sampling";
}

TEST(SpecVerify, SameSeedGivesTheSameSequenceWithOrWithoutSpeculation) {
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  const ToyModel m(7, rng);
  std::mt19937_64 drafter(rng());
  for (int i = 0; i < 200; ++i) {
    const uint64_t s = rng();
    EXPECT_EQ(generate(m, 40, s, nullptr), generate(m, 40, s, &drafter));
  }
}

}  // namespace
}  // namespace ax
