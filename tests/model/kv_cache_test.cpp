// The paged KV cache's geometry, and the batch checks forward() runs before touching it.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "model/blocks.h"
#include "model/kv_cache.h"
#include "util/error.h"
#include "util/half.h"

namespace ax {
namespace {

ModelConfig tiny_config() {
  ModelConfig c;
  c.num_layers = 3;
  c.num_kv_heads = 2;
  c.head_dim = 4;
  return c;
}

// Every (layer, block, slot) keeps its own K and V: fill all with distinct random rows, read all
// back (exactly for float32; rounded to nearest even for f16), and the view points attention at them.
TEST(KvCache, SlotsAreDistinctAndSized) {
  const ModelConfig c = tiny_config();
  EXPECT_EQ(KvCache::bytes_per_block(c, 4), 2u * 3 * 4 * 8 * sizeof(float));
  EXPECT_EQ(KvCache::bytes_per_block(c, 4, KvType::F16), 2u * 3 * 4 * 8 * sizeof(uint16_t));
  std::mt19937 gen(std::random_device{}());
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (KvType type : {KvType::F32, KvType::F16}) {
    SCOPED_TRACE(kv_type_name(type));
    KvCache kv(c, 5, 4, type);
    EXPECT_EQ(kv.kv_width(), 8);
    EXPECT_EQ(kv.type(), type);
    std::vector<float> want(3 * 5 * 4 * 16);  // [layer][block][slot][k 8, v 8]
    for (auto& f : want) f = normal(gen);
    auto at = [&](int64_t l, int64_t b, int64_t s) { return want.data() + ((l * 5 + b) * 4 + s) * 16; };
    for (int64_t l = 0; l < 3; ++l)
      for (int64_t b = 0; b < 5; ++b)
        for (int64_t s = 0; s < 4; ++s) kv.store(l, b, s, at(l, b, s), at(l, b, s) + 8);
    for (int64_t l = 0; l < 3; ++l)
      for (int64_t b = 0; b < 5; ++b)
        for (int64_t s = 0; s < 4; ++s) {
          float k[8], v[8];
          kv.load(l, b, s, k, v);
          for (int i = 0; i < 8; ++i) {
            const float wk = at(l, b, s)[i], wv = at(l, b, s)[8 + i];
            EXPECT_EQ(k[i], type == KvType::F16 ? fp16_to_f32(f32_to_fp16(wk)) : wk);
            EXPECT_EQ(v[i], type == KvType::F16 ? fp16_to_f32(f32_to_fp16(wv)) : wv);
          }
        }
    // The view (each kv head's blocks side by side): value i of kv head g at (block 4, slot 3) of
    // layer 2 is at 4 * block_stride + g * head_stride + 3 * slot_stride + i.
    const std::vector<int32_t> table = {4};
    const cpu::PagedKvView p = kv.view(2, table.data());
    EXPECT_EQ(p.block_size, 4);
    EXPECT_EQ(p.block_stride, 4 * 4);
    EXPECT_EQ(p.head_stride, 5 * 4 * 4);
    EXPECT_EQ(p.slot_stride, 4);
    for (int g = 0; g < 2; ++g)
      for (int i = 0; i < 4; ++i) {
        const int64_t o = 4 * p.block_stride + g * p.head_stride + 3 * p.slot_stride + i;
        const float got = type == KvType::F16 ? fp16_to_f32(p.v16[o]) : p.v[o];
        const float want = at(2, 4, 3)[8 + g * 4 + i];
        EXPECT_EQ(got, type == KvType::F16 ? fp16_to_f32(f32_to_fp16(want)) : want);
      }
    EXPECT_EQ(type == KvType::F16, p.k == nullptr && p.k16 != nullptr);
    float k[8], v[8];
    EXPECT_THROW(kv.load(3, 0, 0, k, v), Error);
    EXPECT_THROW(kv.store(0, 5, 0, k, v), Error);
  }
  EXPECT_THROW(KvCache(c, 0, 4), Error);
  EXPECT_THROW(KvCache(c, 4, 0), Error);
  EXPECT_EQ(kv_type_from_name("f16"), KvType::F16);
  EXPECT_EQ(kv_type_from_name("q8_0"), std::nullopt);
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
