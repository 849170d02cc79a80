// The n-gram drafter against a brute-force oracle that rescans the whole context, on random
// sequences over small vocabularies (so n-grams recur often), plus the behaviours that matter.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "engine/ngram_drafter.h"
#include "test_support.h"

namespace ax {
namespace {

using test::fresh_seed;

// Oracle: the longest n (max_n..min_n) whose suffix n-gram occurred earlier followed by a token;
// copy from the latest such occurrence, reading its own output past the end.
struct OracleDraft {
  int n = 0;
  std::vector<int32_t> tokens;
};
OracleDraft oracle_draft(const std::vector<int32_t>& ctx, const NgramDraftOptions& o, int k) {
  const int64_t len = static_cast<int64_t>(ctx.size());
  for (int n = o.max_n; n >= o.min_n; --n) {
    if (len < n + 1) continue;
    // Occurrences ending at e (tokens [e-n, e)) with a continuation at e < len, latest first.
    std::vector<int64_t> ends;
    for (int64_t e = len - 1; e >= n; --e)
      if (std::equal(ctx.begin() + (e - n), ctx.begin() + e, ctx.end() - n)) ends.push_back(e);
    if (ends.empty()) continue;
    int agreement = 1;
    while (agreement < static_cast<int>(ends.size()) && ctx[ends[agreement]] == ctx[ends[0]]) ++agreement;
    if (n <= o.require_agreement_up_to_n && agreement < 2) continue;
    OracleDraft d{n, {}};
    const int want = std::min(k, o.max_len_for_n[n]);
    std::vector<int32_t> ext = ctx;
    for (int j = 0; j < want; ++j) {
      ext.push_back(ext[ends[0] + j]);
      d.tokens.push_back(ext.back());
    }
    return d;
  }
  return {};
}

void check_against_oracle(const NgramDraftOptions& opts, int vocab, uint64_t seed) {
  SCOPED_TRACE(::testing::Message() << "seed " << seed << " vocab " << vocab);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> tok(0, vocab - 1);
  std::uniform_int_distribution<int> kdist(1, 12);
  std::vector<int32_t> prompt(rng() % 20);
  for (auto& t : prompt) t = tok(rng);
  NgramDrafter d(opts);
  d.reset(prompt);
  std::vector<int32_t> ctx = prompt, out;
  for (int step = 0; step < 300; ++step) {
    const int k = kdist(rng);
    const int n = d.draft(k, out);
    const OracleDraft want = oracle_draft(ctx, opts, k);
    ASSERT_EQ(n, want.n) << "at length " << ctx.size();
    ASSERT_EQ(out, want.tokens) << "at length " << ctx.size();
    // Half the time continue the sequence by its own prediction, so long repeats happen.
    const int32_t next = (!out.empty() && rng() % 2) ? out[0] : tok(rng);
    d.append(next);
    ctx.push_back(next);
  }
  EXPECT_EQ(d.tokens(), ctx);
}

TEST(NgramDrafter, MatchesBruteForceOracle) {
  const uint64_t seed = fresh_seed();
  for (int vocab : {2, 3, 5, 50}) check_against_oracle(NgramDraftOptions{}, vocab, seed + vocab);
}

TEST(NgramDrafter, MatchesOracleWithConfidenceRules) {
  const uint64_t seed = fresh_seed();
  NgramDraftOptions o;
  o.max_len_for_n[2] = 2;
  o.max_len_for_n[3] = 5;
  o.require_agreement_up_to_n = 2;
  for (int vocab : {2, 4, 9}) check_against_oracle(o, vocab, seed + vocab);
  NgramDraftOptions narrow;
  narrow.min_n = 3;
  narrow.max_n = 3;
  for (int vocab : {2, 4}) check_against_oracle(narrow, vocab, seed + 100 + vocab);
}

TEST(NgramDrafter, ContinuesARepeatedBlockPastTheEndOfTheContext) {
  std::mt19937_64 rng(fresh_seed());
  std::vector<int32_t> cycle(7);
  for (size_t i = 0; i < cycle.size(); ++i) cycle[i] = 1000 + static_cast<int32_t>(i) * 13 + rng() % 7;
  std::vector<int32_t> ctx;
  for (int rep = 0; rep < 2; ++rep) ctx.insert(ctx.end(), cycle.begin(), cycle.end());
  ctx.insert(ctx.end(), cycle.begin(), cycle.begin() + 3);  // 2 cycles and 3 tokens
  NgramDrafter d;
  d.reset(ctx);
  std::vector<int32_t> out;
  EXPECT_EQ(d.draft(20, out), 4);
  ASSERT_EQ(out.size(), 20u);
  for (int j = 0; j < 20; ++j) EXPECT_EQ(out[j], cycle[(3 + j) % cycle.size()]) << j;
}

TEST(NgramDrafter, PrefersTheLongestAndMostRecentMatch) {
  // "1 2 3 4 5 9 3 4 6 2 3 4": the suffix 4-gram "6 2 3 4" is new; the 3-gram "2 3 4" was
  // followed by 5; the 2-gram "3 4" more recently by 6, but the longer match wins.
  NgramDrafter d;
  d.reset(std::vector<int32_t>{1, 2, 3, 4, 5, 9, 3, 4, 6, 2, 3, 4});
  std::vector<int32_t> out;
  EXPECT_EQ(d.draft(1, out), 3);
  EXPECT_EQ(out, std::vector<int32_t>{5});
  // A later "2 3 4 7" makes 7 the most recent continuation of "2 3 4".
  d.append(std::vector<int32_t>{7, 2, 3, 4});
  // The suffix 4-gram "7 2 3 4" is new, so "2 3 4" matches again, now at its latest occurrence.
  EXPECT_EQ(d.draft(2, out), 3);
  EXPECT_EQ(out, (std::vector<int32_t>{7, 2}));
}

TEST(NgramDrafter, NoMatchDraftsNothing) {
  NgramDrafter d;
  std::vector<int32_t> out{42};
  d.reset(std::vector<int32_t>{});
  EXPECT_EQ(d.draft(8, out), 0);
  EXPECT_TRUE(out.empty());
  d.reset(std::vector<int32_t>{5, 6, 7, 8, 9});
  EXPECT_EQ(d.draft(8, out), 0);
  EXPECT_TRUE(out.empty());
  d.append(5);
  d.append(6);  // "5 6" occurred before, followed by 7
  EXPECT_EQ(d.draft(0, out), 0);
  EXPECT_EQ(d.draft(3, out), 2);
  EXPECT_EQ(out, (std::vector<int32_t>{7, 8}));  // a bigram match drafts 2 tokens at most
  d.append(7);  // "5 6 7": a trigram match drafts the full length
  EXPECT_EQ(d.draft(3, out), 3);
  EXPECT_EQ(out, (std::vector<int32_t>{8, 9, 5}));
}

// The resync option (off by default; measured in docs/PERFORMANCE.md): after the model replaces a
// copied token, the next draft resumes the copy just past it; a resumed copy that fails at once
// falls back to the n-gram lookup.
TEST(NgramDrafter, ResyncResumesTheCopyPastAReplacedToken) {
  NgramDraftOptions o;
  o.resync_after_rejection = true;
  NgramDrafter d(o);
  // source "10 11 12 13 14 15 16 17", then the copy so far "10 11 12"
  d.reset(std::vector<int32_t>{10, 11, 12, 13, 14, 15, 16, 17, 10, 11, 12});
  std::vector<int32_t> out;
  ASSERT_EQ(d.draft(4, out), 3);
  EXPECT_EQ(out, (std::vector<int32_t>{13, 14, 15, 16}));
  d.verified(4, 1);                                  // 13 accepted, 14 replaced by the model's 99
  d.append(std::vector<int32_t>{13, 99});
  EXPECT_EQ(d.draft(3, out), NgramDrafter::kResync);  // "13 99" never occurred: resume past 14
  EXPECT_EQ(out, (std::vector<int32_t>{15, 16, 17}));
  d.verified(3, 0);                                  // wrong guess: the model inserted instead
  d.append(98);
  EXPECT_EQ(d.draft(3, out), 0);                     // no n-gram for "99 98": nothing, no resync
  EXPECT_TRUE(out.empty());
  // Off (the default), a rejection changes nothing: the next draft looks the context up.
  NgramDrafter plain;
  plain.reset(std::vector<int32_t>{10, 11, 12, 13, 14, 15, 10, 11, 12});
  ASSERT_EQ(plain.draft(2, out), 3);
  plain.verified(2, 0);
  plain.append(77);
  EXPECT_EQ(plain.draft(2, out), 0);
}

TEST(NgramDrafter, RejectsABadNRange) {
  NgramDraftOptions o;
  o.max_n = 5;
  EXPECT_THROW(NgramDrafter{o}, std::exception);
  o.max_n = 2;
  o.min_n = 3;
  EXPECT_THROW(NgramDrafter{o}, std::exception);
}

}  // namespace
}  // namespace ax
