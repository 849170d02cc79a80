// The paged KV cache's geometry and layout, and the step input's slots and checks.
#include <gtest/gtest.h>

#include <random>

#include "backend/cpu/cpu_backend.h"
#include "backend/kv_cache.h"
#include "backend/step_input.h"
#include "util/error.h"
#include "util/half.h"

namespace ax {
namespace {

const KvShape kShape{3, 2, 4};  // 3 layers, 2 kv heads of 4 values

// Every (layer, block, slot) keeps its own K and V: fill all with distinct random rows, read all
// back (exactly for float32; rounded to nearest even for f16), and find them where the layout
// says ([kv head][block][slot][dim] per layer), which is where attention reads them.
TEST(KvCache, SlotsAreDistinctAndLaidOutPerHead) {
  auto be = cpu::make_cpu_backend({.threads = 1});
  EXPECT_EQ(KvCache::bytes_per_block(kShape, 4, KvType::F32), 2u * 3 * 4 * 8 * sizeof(float));
  EXPECT_EQ(KvCache::bytes_per_block(kShape, 4, KvType::F16), 2u * 3 * 4 * 8 * sizeof(uint16_t));
  std::mt19937 gen(std::random_device{}());
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (KvType type : {KvType::F32, KvType::F16}) {
    SCOPED_TRACE(kv_type_name(type));
    KvCache kv(*be, kShape, 5, 4, type);
    EXPECT_EQ(kv.kv_width(0), 8);
    EXPECT_EQ(kv.type(), type);
    EXPECT_EQ(kv.head_stride(2), 5 * 4 * 4);
    std::vector<float> want(3 * 5 * 4 * 16);  // [layer][block][slot][k 8, v 8]
    for (auto& f : want) f = normal(gen);
    auto at = [&](int64_t l, int64_t b, int64_t s) { return want.data() + ((l * 5 + b) * 4 + s) * 16; };
    auto rounded = [&](float f) { return type == KvType::F16 ? fp16_to_f32(f32_to_fp16(f)) : f; };
    for (int64_t l = 0; l < 3; ++l)
      for (int64_t b = 0; b < 5; ++b)
        for (int64_t s = 0; s < 4; ++s) kv.store(l, b, s, at(l, b, s), at(l, b, s) + 8);
    for (int64_t l = 0; l < 3; ++l)
      for (int64_t b = 0; b < 5; ++b)
        for (int64_t s = 0; s < 4; ++s) {
          float k[8], v[8];
          kv.load(l, b, s, k, v);
          for (int i = 0; i < 8; ++i) {
            EXPECT_EQ(k[i], rounded(at(l, b, s)[i]));
            EXPECT_EQ(v[i], rounded(at(l, b, s)[8 + i]));
          }
        }
    // Value i of kv head g at (block 4, slot 3) of layer 2: g * head_stride + (4 * 4 + 3) * 4 + i.
    for (int g = 0; g < 2; ++g)
      for (int i = 0; i < 4; ++i) {
        const int64_t o = g * kv.head_stride(2) + (4 * 4 + 3) * 4 + i;
        const float got = type == KvType::F16 ? fp16_to_f32(static_cast<const uint16_t*>(kv.v_data(2))[o])
                                              : static_cast<const float*>(kv.v_data(2))[o];
        EXPECT_EQ(got, rounded(at(2, 4, 3)[8 + g * 4 + i]));
      }
    float k[8], v[8];
    EXPECT_THROW(kv.load(3, 0, 0, k, v), Error);
    EXPECT_THROW(kv.store(0, 5, 0, k, v), Error);
    EXPECT_THROW(kv.k_data(3), Error);
  }
  EXPECT_THROW(KvCache(*be, kShape, 0, 4), Error);
  EXPECT_THROW(KvCache(*be, kShape, 4, 0), Error);
  EXPECT_THROW(KvCache(*be, KvShape{3, 0, 4}, 4, 4), Error);
  EXPECT_EQ(kv_type_from_name("f16"), KvType::F16);
  EXPECT_EQ(kv_type_from_name("q8_0"), std::nullopt);
}

// Layers of different head widths (Gemma 4: sliding layers narrower than full ones): each layer's
// pools are as wide as its heads, side by side without overlap, and the block costs the sum.
TEST(KvCache, LayersOfDifferentWidthsKeepTheirOwnRows) {
  auto be = cpu::make_cpu_backend({.threads = 1});
  KvShape shape{3, 2, 4};
  shape.layer_head_dims = {4, 8, 4};
  EXPECT_EQ(shape.values_per_token(), 2 * 2 * (4 + 8 + 4));
  EXPECT_EQ(KvCache::bytes_per_block(shape, 4, KvType::F32), 4u * 2 * 2 * 16 * sizeof(float));
  for (KvType type : {KvType::F32, KvType::F16}) {
    SCOPED_TRACE(kv_type_name(type));
    KvCache kv(*be, shape, 5, 4, type);
    EXPECT_EQ(kv.head_dim(1), 8);
    EXPECT_EQ(kv.kv_width(1), 16);
    EXPECT_EQ(kv.kv_width(2), 8);
    EXPECT_EQ(kv.head_stride(1), 5 * 4 * 8);
    const size_t eb = kv_type_bytes(type);
    // Each layer's K pool, then its V pool, then the next layer's.
    EXPECT_EQ(static_cast<uint8_t*>(kv.v_data(0)) - static_cast<uint8_t*>(kv.k_data(0)), 5 * 4 * 8 * eb);
    EXPECT_EQ(static_cast<uint8_t*>(kv.k_data(1)) - static_cast<uint8_t*>(kv.k_data(0)), 2 * 5 * 4 * 8 * eb);
    EXPECT_EQ(static_cast<uint8_t*>(kv.k_data(2)) - static_cast<uint8_t*>(kv.k_data(1)), 2 * 5 * 4 * 16 * eb);
    std::vector<std::vector<float>> rows;  // every layer's (block 4, slot 3) and (block 0, slot 0)
    for (int64_t l = 0; l < 3; ++l)
      for (int64_t b : {0, 4}) {
        std::vector<float> r(2 * kv.kv_width(l));
        for (size_t i = 0; i < r.size(); ++i) r[i] = static_cast<float>(100 * l + 10 * b + i);  // exact in f16
        kv.store(l, b, b == 4 ? 3 : 0, r.data(), r.data() + kv.kv_width(l));
        rows.push_back(r);
      }
    for (int64_t l = 0, i = 0; l < 3; ++l)
      for (int64_t b : {0, 4}) {
        std::vector<float> k(kv.kv_width(l)), v(kv.kv_width(l));
        kv.load(l, b, b == 4 ? 3 : 0, k.data(), v.data());
        k.insert(k.end(), v.begin(), v.end());
        EXPECT_EQ(k, rows[i++]) << "layer " << l << " block " << b;
      }
    EXPECT_THROW(kv.head_dim(3), Error);
  }
  shape.layer_head_dims = {4, 8};
  EXPECT_THROW(KvCache(*be, shape, 5, 4), Error);
}

// MLA's latent cache: K rows only ([c_kv | k_rope]), V read as the c_kv prefix of the same rows; the
// pool holds half of what separate V rows of the same width would take.
TEST(KvCache, LatentCacheKeepsKRowsOnlyAndReadsVFromTheirPrefix) {
  auto be = cpu::make_cpu_backend({.threads = 1});
  const KvShape latent{2, 1, 40, 32};  // 2 layers, one row of 40 values (32 latent + 8 rope)
  EXPECT_EQ(latent.v_head_dim(), 32);
  EXPECT_EQ(latent.values_per_token_layer(), 40);
  EXPECT_EQ(KvCache::bytes_per_block(latent, 4, KvType::F16), 2u * 4 * 40 * sizeof(uint16_t));
  EXPECT_EQ(KvCache::bytes_per_block(KvShape{2, 1, 40}, 4, KvType::F16), 2u * 2 * 4 * 40 * sizeof(uint16_t));
  KvCache kv(*be, latent, 3, 4, KvType::F32);
  EXPECT_TRUE(kv.v_in_k());
  EXPECT_EQ(kv.v_data(1), kv.k_data(1));
  EXPECT_NE(kv.k_data(1), kv.k_data(0));
  std::vector<float> k(40), v(32, -1.0f), got_k(40), got_v(32);
  for (int i = 0; i < 40; ++i) k[i] = 0.5f * i - 3.0f;
  kv.store(1, 2, 3, k.data(), v.data());  // v is not stored: V is K's prefix
  kv.load(1, 2, 3, got_k.data(), got_v.data());
  EXPECT_EQ(got_k, k);
  EXPECT_EQ(got_v, std::vector<float>(k.begin(), k.begin() + 32));
  // Row (block 2, slot 3) of layer 1 at (2 * 4 + 3) * 40 of the layer's K values.
  EXPECT_EQ(static_cast<const float*>(kv.k_data(1))[(2 * 4 + 3) * 40 + 39], k[39]);
  EXPECT_THROW(KvCache(*be, KvShape{2, 1, 40, 41}, 3, 4), Error);
}

// Positions, slots and tables of a step with two sequences; tables longer than the step needs are
// cut; empty sequences add nothing.
TEST(StepInput, FlattensSequencesIntoSlotsAndTables) {
  StepInput in(4);
  const std::vector<int32_t> a = {5, 6, 7}, b = {9};
  const std::vector<int32_t> ta = {2, 0, 3}, tb = {1, 4, 6};
  EXPECT_EQ(in.add_sequence(a, 5, ta), 0);  // positions 5..7: blocks 0 (slots 1..3)
  EXPECT_EQ(in.add_sequence({}, 0, tb), 3);
  EXPECT_EQ(in.add_sequence(b, 4, tb), 3);  // position 4: block 4, slot 0
  in.add_logit_row(2);
  in.add_logit_row(3);
  EXPECT_EQ(in.num_tokens(), 4);
  EXPECT_EQ(in.num_sequences(), 2);
  EXPECT_EQ(in.positions, (std::vector<int32_t>{5, 6, 7, 4}));
  EXPECT_EQ(in.slots, (std::vector<int32_t>{0 * 4 + 1, 0 * 4 + 2, 0 * 4 + 3, 4 * 4 + 0}));
  EXPECT_EQ(in.token_seq, (std::vector<int32_t>{0, 0, 0, 1}));
  EXPECT_EQ(in.seq_begin, (std::vector<int32_t>{0, 3, 4}));
  EXPECT_EQ(in.table_begin, (std::vector<int32_t>{0, 2, 4}));
  EXPECT_EQ(in.block_tables, (std::vector<int32_t>{2, 0, 1, 4}));
  EXPECT_EQ(in.max_context(), 8);
  EXPECT_EQ(in.max_table_blocks(), 2);
  EXPECT_NO_THROW(in.validate(5, 10));
  in.clear();
  EXPECT_EQ(in.num_tokens(), 0);
  EXPECT_EQ(in.num_sequences(), 0);
  EXPECT_EQ(in.block_size(), 4);
}

TEST(StepInput, RejectsWhatDoesNotFit) {
  StepInput in(4);
  const std::vector<int32_t> tokens = {5, 6, 7}, table = {2, 0};  // positions 0..7
  EXPECT_THROW(in.add_sequence(tokens, 6, table), Error);   // reaches position 8
  EXPECT_THROW(in.add_sequence(tokens, -1, table), Error);  // negative position
  EXPECT_THROW(StepInput(0), Error);
  in.add_sequence(tokens, 5, table);
  in.add_logit_row(2);
  EXPECT_NO_THROW(in.validate(3, 10));
  EXPECT_THROW(in.validate(2, 10), Error);  // block 2 outside a pool of 2
  EXPECT_THROW(in.validate(3, 7), Error);   // token 7 outside a vocabulary of 7
  StepInput bad_row = in;
  bad_row.add_logit_row(3);
  EXPECT_THROW(bad_row.validate(3, 10), Error);
  // A released block (-1: before every sliding window) may precede the new tokens' blocks only.
  const std::vector<int32_t> released = {StepInput::kReleased, 0}, written = {0, StepInput::kReleased},
                             negative = {-2, 0};
  StepInput before(4), inside(4), bad_block(4);
  before.add_sequence(tokens, 5, released);
  EXPECT_NO_THROW(before.validate(3, 10));
  inside.add_sequence(tokens, 5, written);
  EXPECT_THROW(inside.validate(3, 10), Error);
  bad_block.add_sequence(tokens, 5, negative);
  EXPECT_THROW(bad_block.validate(3, 10), Error);
}

}  // namespace
}  // namespace ax
