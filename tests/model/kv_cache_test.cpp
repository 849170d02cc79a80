// The paged KV cache's geometry, and the batch checks forward() runs before touching it.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "model/blocks.h"
#include "model/kv_cache.h"
#include "util/error.h"

namespace ax {
namespace {

ModelConfig tiny_config() {
  ModelConfig c;
  c.num_layers = 3;
  c.num_kv_heads = 2;
  c.head_dim = 4;
  return c;
}

TEST(KvCache, SlotsAreDistinctAndSized) {
  const ModelConfig c = tiny_config();
  KvCache kv(c, 5, 4);
  EXPECT_EQ(kv.kv_width(), 8);
  EXPECT_EQ(KvCache::bytes_per_block(c, 4), 2u * 3 * 4 * 8 * sizeof(float));
  // Every (layer, block, slot) has its own kv_width floats for K and for V.
  std::set<const float*> seen;
  for (int64_t l = 0; l < 3; ++l)
    for (int64_t b = 0; b < 5; ++b)
      for (int64_t s = 0; s < 4; ++s) {
        EXPECT_TRUE(seen.insert(kv.k(l, b, s)).second);
        EXPECT_TRUE(seen.insert(kv.v(l, b, s)).second);
        if (s > 0) {
          EXPECT_EQ(kv.k(l, b, s) - kv.k(l, b, s - 1), 8);
        }
      }
  // Writes land where they are read back.
  std::mt19937 gen(std::random_device{}());
  const float val = std::uniform_real_distribution<float>(1, 2)(gen);
  kv.v(2, 4, 3)[7] = val;
  EXPECT_EQ(kv.v(2, 4, 3)[7], val);
  EXPECT_THROW(KvCache(c, 0, 4), Error);
  EXPECT_THROW(KvCache(c, 4, 0), Error);
}

TEST(CheckBatch, RejectsMalformedBatches) {
  const ModelConfig c = tiny_config();
  KvCache kv(c, 4, 4);
  std::vector<int32_t> table = {2, 0};  // positions 0..7
  Batch b;
  b.tokens = {5, 6, 7};
  b.sequences.push_back({0, 3, 5, &table});  // positions 5..7: fits
  b.logit_rows = {2};
  EXPECT_NO_THROW(check_batch(b, kv, 10));

  Batch long_seq = b;
  long_seq.sequences[0].start_pos = 6;  // reaches position 8: the table is too short
  EXPECT_THROW(check_batch(long_seq, kv, 10), Error);

  std::vector<int32_t> bad_table = {2, 4};  // block 4 does not exist
  Batch bad_block = b;
  bad_block.sequences[0].block_table = &bad_table;
  EXPECT_THROW(check_batch(bad_block, kv, 10), Error);

  Batch bad_token = b;
  bad_token.tokens[1] = 10;
  EXPECT_THROW(check_batch(bad_token, kv, 10), Error);

  Batch bad_row = b;
  bad_row.logit_rows = {3};
  EXPECT_THROW(check_batch(bad_row, kv, 10), Error);

  Batch bad_range = b;
  bad_range.sequences[0].num_tokens = 4;
  EXPECT_THROW(check_batch(bad_range, kv, 10), Error);

  Batch no_table = b;
  no_table.sequences[0].block_table = nullptr;
  EXPECT_THROW(check_batch(no_table, kv, 10), Error);
}

}  // namespace
}  // namespace ax
