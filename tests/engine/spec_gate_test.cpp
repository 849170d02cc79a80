// The accept-rate gate and the batch row budget: drafting pays when acceptance is high, stops
// when it is not, probes again later, and shrinks as the batch fills.
#include <gtest/gtest.h>

#include <random>

#include "engine/spec_gate.h"
#include "engine/spec_sequence.h"
#include "test_support.h"

namespace ax {
namespace {

using test::fresh_seed;

TEST(SpecGate, BestLengthFollowsTheCostModel) {
  EXPECT_EQ(SpecGate::best_length(0.0, 0.08, 8), 0);
  EXPECT_EQ(SpecGate::best_length(1.0, 0.08, 8), 8);
  EXPECT_EQ(SpecGate::best_length(0.9, 0.0, 5), 5);   // free rows: always draft all
  EXPECT_EQ(SpecGate::best_length(0.05, 0.1, 8), 0);  // 1.05 tokens for 1.1 of the time
  // (1 + a) / (1 + c) > 1 exactly when a > c.
  EXPECT_EQ(SpecGate::best_length(0.2, 0.19, 1), 1);
  EXPECT_EQ(SpecGate::best_length(0.2, 0.21, 1), 0);
  int last = 0;
  for (double a = 0; a <= 1.0; a += 0.01) {
    const int j = SpecGate::best_length(a, 0.08, 16);
    EXPECT_GE(j, last) << "draft length must grow with acceptance, a = " << a;
    last = j;
  }
}

TEST(SpecGate, ClosesOnRejectionsAndProbesWithDoublingCooldown) {
  SpecGateOptions o;
  o.initial_cooldown = 4;
  o.max_cooldown = 16;
  SpecGate g(o);
  ASSERT_GT(g.allowed(8), 0);
  g.record(8, 0);  // observed 0: the average falls to 0.42, still worth a short draft
  int steps_to_close = 0;
  while (g.allowed(8) > 0) {
    g.record(2, 0);
    ASSERT_LT(++steps_to_close, 20);
  }
  EXPECT_FALSE(g.open());
  EXPECT_EQ(g.times_closed(), 1);
  // Closed: 4 steps in all (the closing one included), then a probe; failed probes double it.
  for (int cooldown : {4, 8, 16, 16}) {
    for (int i = 1; i < cooldown; ++i) EXPECT_EQ(g.allowed(8), 0) << "cooldown " << cooldown << " step " << i;
    const int probe = g.allowed(8);
    ASSERT_GT(probe, 0) << "cooldown " << cooldown;
    g.record(probe, 0);
    EXPECT_EQ(g.allowed(8), 0);
  }
  // A successful probe keeps the gate open and resets the cooldown.
  for (int i = 1; i < 16; ++i) ASSERT_EQ(g.allowed(8), 0);
  const int probe = g.allowed(8);
  ASSERT_GT(probe, 0);
  g.record(probe, probe);
  EXPECT_EQ(g.allowed(8), 8);
}

// Drafts after a fully accepted draft (copying, looping) and the others keep separate estimates:
// failing fresh matches shorten fresh drafts without shortening the drafts of a running copy.
TEST(SpecGate, HotAndColdDraftsKeepSeparateEstimates) {
  SpecGateOptions o;
  o.row_cost = 0.05;
  SpecGate g(o);
  g.record(g.allowed(12), 12);                 // a whole draft accepted: the next one is hot
  for (int i = 0; i < 10; ++i) g.record(g.allowed(12), g.allowed(12) > 0 ? 12 : 0);
  const int hot_len = g.allowed(12);
  EXPECT_EQ(hot_len, 12);                      // copying: full length
  g.record(hot_len, 5);                        // the text changed: the next draft is cold
  for (int i = 0; i < 5; ++i) {
    const int j = g.allowed(12);
    if (j > 0) g.record(j, 0);                 // fresh matches keep failing
  }
  EXPECT_LT(g.accept_estimate(), 0.5);
  // Back on a copy: one whole draft and the next one is long again (the failures were cold ones).
  int j = g.allowed(12);
  for (int i = 0; i < 300 && j == 0; ++i) j = g.allowed(12);  // wait out a cooldown, if closed
  ASSERT_GT(j, 0);
  g.record(j, j);
  EXPECT_GE(g.allowed(12), 10);
}

// Closed, the gate reopens at once after shadow_reopen correct shadow predictions in a row (a
// wrong one restarts the count), instead of waiting out its cooldown.
TEST(SpecGate, ShadowPredictionsReopenAClosedGate) {
  SpecGateOptions o;
  o.initial_cooldown = 64;
  o.max_cooldown = 64;
  o.shadow_reopen = 3;
  SpecGate g(o);
  while (g.allowed(8) > 0) g.record(2, 0);
  ASSERT_FALSE(g.open());
  g.shadow(true);
  g.shadow(true);
  g.shadow(false);  // restarts the count
  g.shadow(true);
  g.shadow(true);
  EXPECT_FALSE(g.open());
  EXPECT_EQ(g.allowed(8), 0);
  g.shadow(true);   // the third in a row
  EXPECT_TRUE(g.open());
  const int probe = g.allowed(8);
  EXPECT_GT(probe, 0);
  g.shadow(true);   // open: shadow results are ignored
  EXPECT_TRUE(g.open());
  // The probe fails: the gate closes, and the next reopening needs twice the run (6).
  g.record(probe, 0);
  while (g.allowed(8) > 0) g.record(2, 0);
  ASSERT_FALSE(g.open());
  for (int i = 0; i < 5; ++i) g.shadow(true);
  EXPECT_FALSE(g.open());
  g.shadow(true);
  EXPECT_TRUE(g.open());
}

TEST(SpecGate, DraftsLongWhenAcceptanceIsHighAndRarelyWhenLow) {
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  for (double a : {0.95, 0.02}) {
    SpecGate g;
    std::bernoulli_distribution accept(a);
    int drafting_steps = 0;
    int64_t drafted = 0;
    const int steps = 2000;
    for (int s = 0; s < steps; ++s) {
      const int j = g.allowed(8, 0.08);
      if (j == 0) continue;
      ++drafting_steps;
      int acc = 0;
      while (acc < j && accept(rng)) ++acc;
      g.record(j, acc);
      drafted += j;
    }
    if (a > 0.5) {
      EXPECT_GT(drafting_steps, steps * 0.95);
      EXPECT_GT(static_cast<double>(drafted) / drafting_steps, 6.0);
    } else {
      EXPECT_LT(drafting_steps, steps * 0.05);
    }
  }
}

TEST(SpecGate, BatchRowBudgetBacksOffAsTheBatchFills) {
  SpecGateOptions o;
  o.max_rows_per_step = 32;
  EXPECT_EQ(batch_draft_cap(o, 0), 0);
  EXPECT_EQ(batch_draft_cap(o, 1), 31);
  EXPECT_EQ(batch_draft_cap(o, 4), 7);
  EXPECT_EQ(batch_draft_cap(o, 16), 1);
  EXPECT_EQ(batch_draft_cap(o, 17), 0);
  for (int b = 1; b < 100; ++b) EXPECT_LE(b * (1 + batch_draft_cap(o, b)), std::max(32, b));
}

TEST(SpecSequence, DraftsFromThePromptAndCountsWhatWasAccepted) {
  std::mt19937_64 rng(fresh_seed());
  std::vector<int32_t> prompt(40);
  for (auto& t : prompt) t = static_cast<int32_t>(rng() % 1000);
  // The prompt ends with a repeat of its first 5 tokens, so the drafter continues from token 5.
  prompt.insert(prompt.end(), prompt.begin(), prompt.begin() + 5);
  SpeculationParams p;
  p.max_draft = 6;
  SpecSequence s(p, prompt);
  const std::vector<int32_t> d = s.propose(100, 0.01);
  ASSERT_EQ(d, std::vector<int32_t>(prompt.begin() + 5, prompt.begin() + 11));
  s.verified(6, 4);
  s.append(std::span<const int32_t>(d.data(), 5));
  EXPECT_EQ(s.metrics().verify_steps, 1);
  EXPECT_EQ(s.metrics().drafted_tokens, 6);
  EXPECT_EQ(s.metrics().accepted_tokens, 4);
  EXPECT_EQ(s.metrics().steps_saved(), 4);
  EXPECT_EQ(s.propose(3, 0.01).size(), 3u);  // a cap below max_draft shortens the draft
  EXPECT_EQ(s.metrics().batch_capped, 1);
  EXPECT_TRUE(s.propose(0).empty());

  SpeculationParams off;
  off.enabled = false;
  SpecSequence o(off, prompt);
  EXPECT_TRUE(o.propose(100).empty());
  SpeculationParams bad;
  bad.max_draft = 0;
  EXPECT_THROW(SpecSequence(bad, prompt), std::exception);
  bad.max_draft = SpeculationParams::kMaxMaxDraft + 1;
  EXPECT_THROW(SpecSequence(bad, prompt), std::exception);
}

}  // namespace
}  // namespace ax

namespace ax {
namespace {

TEST(StepCostModel, RecoversLinearCostAndScalesWithTheBatch) {
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> c0d(1e-3, 1e-2), ratio(0.01, 2.0), noise(0.97, 1.03);
  for (int trial = 0; trial < 20; ++trial) {
    const double c0 = c0d(rng), c1 = c0 * ratio(rng);
    StepCostModel m(SpecGateOptions{.row_cost = 0.3});
    EXPECT_DOUBLE_EQ(m.row_cost(1), 0.3);
    for (int i = 0; i < 8; ++i) m.record(1, c0 + c1);  // one row count only: nothing to fit yet
    EXPECT_DOUBLE_EQ(m.row_cost(1), 0.3);
    for (int i = 0; i < 200; ++i) {
      const int64_t rows = 1 + static_cast<int64_t>(rng() % 12);
      m.record(rows, (c0 + c1 * rows) * noise(rng));
    }
    const double want1 = c1 / (c0 + c1), want8 = 8 * c1 / (c0 + 8 * c1);
    EXPECT_NEAR(m.row_cost(1), std::clamp(want1, 0.005, 1.0), 0.05 * want1 + 0.01) << "trial " << trial;
    EXPECT_NEAR(m.row_cost(8), std::clamp(want8, 0.005, 1.0), 0.05 * want8 + 0.01) << "trial " << trial;
    EXPECT_GE(m.row_cost(8), m.row_cost(1));
  }
}

TEST(StepCostModel, SeesACheapOneRowPathAsAJump) {
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> noise(0.98, 1.02);
  // Two or more rows: 1 + 0.5 * rows; one row: 0.5 (a third of the line's 1.5).
  const double c0 = 1e-3, c1 = 0.5e-3, t1 = 0.5e-3;
  StepCostModel m;
  for (int i = 0; i < 300; ++i) {
    const int64_t rows = rng() % 3 == 0 ? 2 + static_cast<int64_t>(rng() % 8) : 1;
    m.record(rows, (rows == 1 ? t1 : c0 + c1 * rows) * noise(rng));
  }
  EXPECT_NEAR(m.jump_cost(1), (c0 + c1 - t1) / t1, 0.15);
  EXPECT_NEAR(m.row_cost(1), c1 / t1, 0.05);
  EXPECT_EQ(m.jump_cost(4), 0.0);  // batched steps never run the one-row path
  // Drafting cannot pay here: even certain acceptance of 8 tokens costs 1 + 2 + 8 steps for 9.
  EXPECT_EQ(SpecGate::best_length(1.0, m.row_cost(1), 8, m.jump_cost(1)), 0);
  // Without the jump the line alone would have said yes.
  EXPECT_GT(SpecGate::best_length(1.0, c1 / (c0 + c1), 8), 0);
}

TEST(SpecGate, UsesTheRowCostItIsGiven) {
  SpecGate cheap, dear;
  EXPECT_EQ(cheap.allowed(8, 0.01), 8);  // acceptance estimate 0.9, rows nearly free
  EXPECT_EQ(dear.allowed(8, 1.0), 0);    // a row costs a whole step: drafting cannot pay
  EXPECT_FALSE(dear.open());
}

}  // namespace
}  // namespace ax
