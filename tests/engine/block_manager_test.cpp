// Block manager and prefix cache: allocation, sharing, eviction order, truncation, and a property
// test over random admit/grow/commit/truncate/release sequences.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "engine/block_manager.h"
#include "util/error.h"

namespace ax {
namespace {

uint32_t fresh_seed() { return std::random_device{}(); }

std::vector<int32_t> random_tokens(std::mt19937& rng, int64_t n) {
  std::uniform_int_distribution<int32_t> d(0, 50000);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = d(rng);
  return t;
}

TEST(PrefixCache, KeysChainOverParents) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  auto a = random_tokens(rng, 4), b = random_tokens(rng, 4);
  BlockKey ka = chain_block_key(kRootBlockKey, a);
  // Same tokens under another parent name another prefix.
  EXPECT_NE(chain_block_key(kRootBlockKey, b), chain_block_key(ka, b));
  EXPECT_EQ(chain_block_key(ka, b), chain_block_key(ka, b));

  PrefixCache cache(4);
  EXPECT_TRUE(cache.insert(7, ka, kRootBlockKey, a));
  EXPECT_EQ(cache.find(ka, kRootBlockKey, a), 7);
  // The token check: a key that collides but names other tokens is a miss.
  auto other = a;
  other[2] ^= 1;
  EXPECT_EQ(cache.find(ka, kRootBlockKey, other), -1);
  EXPECT_EQ(cache.find(ka, ka, a), -1);  // wrong parent
  // A second block with the same key is not registered; the first stays.
  EXPECT_FALSE(cache.insert(8, ka, kRootBlockKey, a));
  EXPECT_EQ(cache.find(ka, kRootBlockKey, a), 7);
  EXPECT_THROW(cache.insert(9, ka ^ 1, kRootBlockKey, std::vector<int32_t>{1, 2}), Error);
  cache.erase(7);
  EXPECT_EQ(cache.find(ka, kRootBlockKey, a), -1);
  EXPECT_EQ(cache.size(), 0);
}

TEST(BlockManager, AllocatesAndFreesWithoutPrefixCache) {
  BlockManager bm(8, 4, /*prefix_caching=*/false);
  bm.admit(1, std::vector<int32_t>{1, 2, 3, 4, 5});
  EXPECT_EQ(bm.blocks_needed(1, 9), 3);
  bm.grow(1, 9);
  EXPECT_EQ(bm.table(1).size(), 3u);
  EXPECT_EQ(bm.num_free(), 5);
  bm.grow(1, 12);  // still three blocks
  EXPECT_EQ(bm.num_free(), 5);
  EXPECT_THROW(bm.grow(1, 4 * 9), Error);  // 9 blocks > 8
  bm.check_invariants();
  bm.release(1);
  EXPECT_EQ(bm.num_free(), 8);
  bm.check_invariants();
}

TEST(BlockManager, SharesFullPrefixBlocksAndReportsCachedTokens) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  const int64_t bs = 4;
  BlockManager bm(16, bs);
  auto prompt = random_tokens(rng, 11);  // two full blocks + 3
  EXPECT_EQ(bm.admit(1, prompt), 0);
  bm.grow(1, 11);
  bm.commit(1, prompt);
  EXPECT_EQ(bm.num_committed_blocks(1), 2);
  EXPECT_EQ(bm.num_cached(), 2);

  // Same system prompt, different continuation: the two full blocks are shared.
  auto second = std::vector<int32_t>(prompt.begin(), prompt.begin() + 8);
  auto tail = random_tokens(rng, 6);
  second.insert(second.end(), tail.begin(), tail.end());
  PrefixMatch m = bm.match(std::span(second).first(second.size() - 1));
  EXPECT_EQ(m.num_blocks, 2);
  EXPECT_EQ(m.num_tokens, 8);
  EXPECT_EQ(m.num_free_blocks, 0);  // held by sequence 1
  EXPECT_EQ(bm.admit(2, std::span(second).first(second.size() - 1)), 8);
  EXPECT_EQ(bm.table(2)[0], bm.table(1)[0]);
  EXPECT_EQ(bm.table(2)[1], bm.table(1)[1]);
  EXPECT_EQ(bm.ref_counts()[bm.table(1)[0]], 2);
  bm.grow(2, static_cast<int64_t>(second.size()));
  EXPECT_NE(bm.table(2)[2], bm.table(1)[2]);  // partial blocks are never shared
  bm.check_invariants();

  // After both finish, the cached blocks are free but still hit.
  bm.release(1);
  bm.release(2);
  EXPECT_EQ(bm.num_free(), 16);
  m = bm.match(prompt);
  EXPECT_EQ(m.num_blocks, 2);
  EXPECT_EQ(m.num_free_blocks, 2);
  EXPECT_EQ(bm.admit(3, prompt), 8);
  EXPECT_EQ(bm.num_free(), 14);  // the hit took two blocks off the free list
  bm.check_invariants();
}

TEST(BlockManager, EvictsUncachedFirstThenLeastRecentlyReleasedLeavesFirst) {
  const int64_t bs = 2;
  BlockManager bm(6, bs);
  std::vector<int32_t> a = {1, 2, 3, 4, 5, 6};  // three full blocks: a chain root -> leaf
  bm.admit(1, {});
  bm.grow(1, 6);
  bm.commit(1, a);
  auto table = bm.table(1);
  bm.release(1);
  EXPECT_EQ(bm.num_cached(), 3);
  // Three uncached free blocks are used before any cached one is evicted.
  bm.admit(2, {});
  bm.grow(2, 6);
  EXPECT_EQ(bm.num_cached(), 3);
  EXPECT_EQ(bm.num_evictions(), 0);
  EXPECT_EQ(bm.match(a).num_blocks, 3);
  // The next allocation evicts the leaf of the chain (released first), not the root.
  bm.grow(2, 8);
  EXPECT_EQ(bm.table(2).back(), table[2]);
  EXPECT_EQ(bm.num_cached(), 2);
  EXPECT_EQ(bm.match(a).num_blocks, 2);
  bm.grow(2, 10);
  EXPECT_EQ(bm.table(2).back(), table[1]);
  EXPECT_EQ(bm.match(a).num_blocks, 1);
  EXPECT_EQ(bm.num_evictions(), 2);
  bm.check_invariants();
}

TEST(BlockManager, TruncateDropsOnlyUncommittedBlocks) {
  BlockManager bm(10, 4);
  std::vector<int32_t> t = {5, 6, 7, 8, 9, 10};
  bm.admit(1, {});
  bm.grow(1, 6);
  bm.commit(1, t);  // one committed block
  bm.grow(1, 6 + 9);  // draft rows: 15 positions, 4 blocks
  EXPECT_EQ(bm.table(1).size(), 4u);
  bm.truncate(1, 7);
  EXPECT_EQ(bm.table(1).size(), 2u);
  EXPECT_EQ(bm.num_free(), 8);
  EXPECT_THROW(bm.truncate(1, 3), Error);  // would cut the committed block
  bm.truncate(1, 4);
  EXPECT_EQ(bm.table(1).size(), 1u);
  bm.check_invariants();
}

TEST(BlockManager, DropBeforeReleasesCommittedBlocksThatStayCached) {
  BlockManager bm(6, 4);
  std::vector<int32_t> t = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
  bm.admit(1, {});
  bm.grow(1, 13);
  EXPECT_THROW(bm.drop_before(1, 8), Error);  // not committed yet
  bm.commit(1, t);                            // three full blocks
  const std::vector<int32_t> before = bm.table(1);
  bm.drop_before(1, 9);  // blocks 0 and 1 end before position 9
  EXPECT_EQ(bm.table(1)[0], BlockManager::kNoBlock);
  EXPECT_EQ(bm.table(1)[1], BlockManager::kNoBlock);
  EXPECT_EQ(bm.table(1)[2], before[2]);
  EXPECT_EQ(bm.num_free(), 6 - 2);
  bm.drop_before(1, 9);  // again: nothing more
  EXPECT_EQ(bm.num_free(), 6 - 2);
  bm.check_invariants();
  // The dropped blocks are still cached: a new sequence with the same prefix takes them back.
  EXPECT_EQ(bm.admit(2, std::span(t).first(12)), 12);
  EXPECT_EQ(bm.table(2)[0], before[0]);
  EXPECT_EQ(bm.table(2)[1], before[1]);
  bm.check_invariants();
  // The table still grows at its end and releases without touching the dropped entries.
  bm.grow(1, 20);
  bm.release(1);
  bm.release(2);
  EXPECT_EQ(bm.num_free(), 6);
  bm.check_invariants();
}

TEST(BlockManager, DuplicatePrefixComputedTwiceStaysPrivate) {
  BlockManager bm(8, 2);
  std::vector<int32_t> t = {1, 2, 3, 4};
  bm.admit(1, {});
  bm.admit(2, {});
  bm.grow(1, 4);
  bm.grow(2, 4);
  bm.commit(1, t);
  bm.commit(2, t);  // same key: first wins, sequence 2 keeps private blocks
  EXPECT_EQ(bm.num_cached(), 2);
  bm.check_invariants();
  bm.release(2);
  EXPECT_EQ(bm.num_cached(), 2);
  EXPECT_EQ(bm.match(t).num_free_blocks, 0);
  bm.release(1);
  EXPECT_EQ(bm.match(t).num_free_blocks, 2);
  bm.check_invariants();
}

// Random operations against a model of what each sequence holds. After every operation: the
// invariants hold, tables cover exactly what was asked, and cached hits name the right tokens.
TEST(BlockManager, PropertyRandomOperationsNeverLeakOrDoubleFree) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  const int64_t bs = 1 + rng() % 5;
  const int64_t num_blocks = 8 + rng() % 40;
  BlockManager bm(num_blocks, bs);
  // A few shared "system prompts" so prefix hits happen often.
  std::vector<std::vector<int32_t>> prefixes;
  for (int i = 0; i < 3; ++i) prefixes.push_back(random_tokens(rng, 1 + rng() % (4 * bs)));
  struct Live {
    std::vector<int32_t> tokens;  // all tokens; the first `computed` have final K/V
    int64_t computed = 0;
  };
  std::map<int64_t, Live> live;
  int64_t next_id = 0;
  for (int op = 0; op < 4000; ++op) {
    int kind = rng() % 6;
    if (kind == 0 || live.empty()) {
      Live l;
      l.tokens = prefixes[rng() % prefixes.size()];
      auto tail = random_tokens(rng, rng() % (3 * bs));
      l.tokens.insert(l.tokens.end(), tail.begin(), tail.end());
      std::span<const int32_t> cacheable(l.tokens.data(), l.tokens.size() - 1);
      PrefixMatch m = bm.match(cacheable);
      int64_t free_before = bm.num_free();
      int64_t id = next_id++;
      l.computed = bm.admit(id, cacheable);
      ASSERT_EQ(l.computed, m.num_tokens);
      ASSERT_EQ(bm.num_free(), free_before - m.num_free_blocks);
      ASSERT_LT(l.computed, static_cast<int64_t>(l.tokens.size()));
      live.emplace(id, std::move(l));
    } else {
      auto it = std::next(live.begin(), rng() % live.size());
      int64_t id = it->first;
      Live& l = it->second;
      if (kind == 1) {  // release
        bm.release(id);
        live.erase(it);
      } else if (kind == 2 || kind == 3) {  // compute some tokens (prefill chunk or decode)
        int64_t n = 1 + rng() % (2 * bs);
        int64_t target = l.computed + n;
        if (bm.blocks_needed(id, target) > bm.num_free()) {
          ASSERT_THROW(bm.grow(id, target), Error);
          continue;
        }
        bm.grow(id, target);
        ASSERT_GE(static_cast<int64_t>(bm.table(id).size()) * bs, target);
        while (static_cast<int64_t>(l.tokens.size()) < target + 1) l.tokens.push_back(rng() % 50000);
        l.computed = target;
        bm.commit(id, std::span(l.tokens).first(l.computed));
      } else if (kind == 4) {  // speculative rollback: grow for drafts, keep a prefix
        int64_t k = 1 + rng() % (2 * bs);
        if (bm.blocks_needed(id, l.computed + k) > bm.num_free()) continue;
        bm.grow(id, l.computed + k);
        bm.truncate(id, l.computed + static_cast<int64_t>(rng() % (k + 1)));
      } else {  // a fresh sequence with the same tokens hits every registered leading block
        std::span<const int32_t> done(l.tokens.data(), l.computed);
        int64_t registered = 0;
        while (registered < bm.num_committed_blocks(id) && bm.cache().contains(bm.table(id)[registered]))
          ++registered;
        PrefixMatch m = bm.match(done);
        ASSERT_GE(m.num_blocks, registered);
        ASSERT_LE(m.num_blocks, l.computed / bs);
        for (int64_t i = 0; i < registered; ++i) ASSERT_EQ(bm.ref_counts()[bm.table(id)[i]] > 0, true);
      }
    }
    bm.check_invariants();
    // Used blocks are exactly the distinct blocks in live tables.
    int64_t used = 0;
    std::vector<int32_t> counted(num_blocks, 0);
    for (const auto& [id, l] : live)
      for (int32_t b : bm.table(id))
        if (!counted[b]++) ++used;
    ASSERT_EQ(bm.num_used(), used);
  }
  for (auto& [id, l] : live) bm.release(id);
  ASSERT_EQ(bm.num_free(), num_blocks);
  bm.check_invariants();
}

}  // namespace
}  // namespace ax
