// Sizing the KV pool from a memory budget.
#include <gtest/gtest.h>

#include <random>

#include "engine/kv_budget.h"
#include "backend/kv_cache.h"
#include "util/error.h"

namespace ax {
namespace {

KvShape config(int64_t layers, int64_t kv_heads, int64_t head_dim) { return {layers, kv_heads, head_dim}; }

// What a backend offers when no budget is named.
const KvBudget kDefault{int64_t{3} << 30, "a test's default budget"};

TEST(KvBudget, BlocksFollowTheBudgetUpToWhatTheSequencesCanUse) {
  uint32_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  const KvShape cfg = config(1 + rng() % 32, 1 + rng() % 8, 16 * (1 + rng() % 8));
  const int64_t bs = 16;
  const int64_t per_block = static_cast<int64_t>(KvCache::bytes_per_block(cfg, bs, KvType::F32));
  EXPECT_EQ(per_block, 2 * cfg.num_layers * bs * cfg.num_kv_heads * cfg.head_dim * 4);

  const int64_t want = 10 + rng() % 1000;
  KvPoolPlan p = plan_kv_pool(cfg, bs, want * per_block + per_block / 2, kDefault, /*max_num_seqs=*/100000, 4096, KvType::F32);
  EXPECT_EQ(p.num_blocks, want);  // whole blocks that fit the budget
  EXPECT_EQ(p.bytes, want * per_block);
  EXPECT_NE(p.explanation.find("--kv-memory"), std::string::npos) << p.explanation;

  // A huge budget is capped at max_num_seqs full-length sequences: 3 x ceil(100 / 16) = 21.
  p = plan_kv_pool(cfg, bs, int64_t{1} << 40, kDefault, 3, 100, KvType::F32);
  EXPECT_EQ(p.num_blocks, 21);
  EXPECT_NE(p.explanation.find("capped"), std::string::npos) << p.explanation;

  // No budget: the backend's default, named in the explanation.
  p = plan_kv_pool(cfg, bs, 0, kDefault, 4, 64, KvType::F32);
  EXPECT_EQ(p.num_blocks, 4 * 4);
  EXPECT_NE(p.explanation.find("a test's default budget"), std::string::npos) << p.explanation;
  p = plan_kv_pool(cfg, bs, 0, {per_block * 5, "small"}, 100, 4096, KvType::F32);
  EXPECT_EQ(p.num_blocks, 5);
}

TEST(KvBudget, ABudgetBelowOneBlockIsAnError) {
  const KvShape cfg = config(4, 2, 64);
  const int64_t per_block = static_cast<int64_t>(KvCache::bytes_per_block(cfg, 16, KvType::F32));
  try {
    plan_kv_pool(cfg, 16, per_block - 1, kDefault, 8, 1024, KvType::F32);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("smaller than one KV block"), std::string::npos) << e.what();
  }
  EXPECT_THROW(plan_kv_pool(cfg, 0, 1 << 20, kDefault, 8, 1024, KvType::F32), Error);
  EXPECT_THROW(plan_kv_pool(cfg, 16, -1, kDefault, 8, 1024, KvType::F32), Error);
}

// Hybrid models: the recurrent states of max_num_seqs sequences come out of the budget before the
// blocks do, with or without --kv-memory; a budget they fill leaves no block and is an error.
TEST(KvBudget, RecurrentStateSlotsComeOutOfTheBudget) {
  uint32_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  KvShape hybrid = config(1 + rng() % 8, 1 + rng() % 4, 16 * (1 + rng() % 4));
  hybrid.state_floats = 1000 + rng() % 100000;
  const int64_t bs = 16, seqs = 1 + rng() % 16;
  const int64_t per_block = static_cast<int64_t>(KvCache::bytes_per_block(hybrid, bs, KvType::F32));
  const int64_t state = hybrid.state_floats * 4 * seqs;
  const int64_t want = 10 + rng() % 1000;
  KvPoolPlan p = plan_kv_pool(hybrid, bs, state + want * per_block + per_block / 2, kDefault, seqs, 1 << 20, KvType::F32);
  EXPECT_EQ(p.num_blocks, want);
  EXPECT_EQ(p.state_bytes, state);
  EXPECT_NE(p.explanation.find("recurrent state for " + std::to_string(seqs) + " sequences"), std::string::npos)
      << p.explanation;
  p = plan_kv_pool(hybrid, bs, 0, {state + want * per_block, "default"}, seqs, 1 << 20, KvType::F32);
  EXPECT_EQ(p.num_blocks, want);
  // The same shape without a state gets the whole budget as blocks.
  KvShape plain = hybrid;
  plain.state_floats = 0;
  p = plan_kv_pool(plain, bs, state + want * per_block, kDefault, seqs, 1 << 20, KvType::F32);
  EXPECT_EQ(p.num_blocks, want + state / per_block);
  EXPECT_EQ(p.state_bytes, 0);
  try {
    plan_kv_pool(hybrid, bs, state + per_block - 1, kDefault, seqs, 1 << 20, KvType::F32);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("recurrent states of " + std::to_string(seqs) + " sequences"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace ax
