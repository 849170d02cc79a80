#include "engine/block_manager.h"

#include <algorithm>

#include "util/error.h"

namespace ax {

BlockManager::BlockManager(int64_t num_blocks, int64_t block_size, bool prefix_caching)
    : block_size_(block_size), prefix_caching_(prefix_caching), cache_(block_size > 0 ? block_size : 1) {
  if (num_blocks <= 0 || num_blocks > INT32_MAX)
    fail("block manager: num_blocks must be in [1, 2^31), got {}", num_blocks);
  if (block_size <= 0) fail("block manager: block_size must be positive, got {}", block_size);
  ref_.assign(num_blocks, 0);
  prev_.assign(num_blocks, -1);
  next_.assign(num_blocks, -1);
  in_free_.assign(num_blocks, 0);
  for (int32_t b = 0; b < num_blocks; ++b) list_push_back(b);
}

void BlockManager::list_remove(int32_t b) {
  if (prev_[b] >= 0) next_[prev_[b]] = next_[b]; else head_ = next_[b];
  if (next_[b] >= 0) prev_[next_[b]] = prev_[b]; else tail_ = prev_[b];
  prev_[b] = next_[b] = -1;
  in_free_[b] = 0;
  --num_free_;
}

void BlockManager::list_push_front(int32_t b) {
  prev_[b] = -1;
  next_[b] = head_;
  if (head_ >= 0) prev_[head_] = b; else tail_ = b;
  head_ = b;
  in_free_[b] = 1;
  ++num_free_;
}

void BlockManager::list_push_back(int32_t b) {
  next_[b] = -1;
  prev_[b] = tail_;
  if (tail_ >= 0) next_[tail_] = b; else head_ = b;
  tail_ = b;
  in_free_[b] = 1;
  ++num_free_;
}

int32_t BlockManager::allocate() {
  if (head_ < 0) fail("block manager: out of KV blocks (all {} in use)", num_blocks());
  int32_t b = head_;
  list_remove(b);
  if (cache_.contains(b)) {  // evict: the least recently released cached block
    cache_.erase(b);
    ++evictions_;
  }
  ref_[b] = 1;
  return b;
}

void BlockManager::unref(int32_t b) {
  if (ref_[b] <= 0) fail("block manager: block {} released more often than referenced", b);
  if (--ref_[b] == 0) {
    if (cache_.contains(b)) list_push_back(b);
    else list_push_front(b);
  }
}

BlockManager::Seq& BlockManager::seq_at(int64_t seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) fail("block manager: unknown sequence {}", seq);
  return it->second;
}

const BlockManager::Seq& BlockManager::seq_at(int64_t seq) const {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) fail("block manager: unknown sequence {}", seq);
  return it->second;
}

PrefixMatch BlockManager::match(std::span<const int32_t> tokens) const {
  PrefixMatch m;
  if (!prefix_caching_) return m;
  BlockKey parent = kRootBlockKey;
  const int64_t full = static_cast<int64_t>(tokens.size()) / block_size_;
  for (int64_t i = 0; i < full; ++i) {
    auto blk = tokens.subspan(i * block_size_, block_size_);
    BlockKey key = chain_block_key(parent, blk);
    int32_t b = cache_.find(key, parent, blk);
    if (b < 0) break;
    ++m.num_blocks;
    if (ref_[b] == 0) ++m.num_free_blocks;
    parent = key;
  }
  m.num_tokens = m.num_blocks * block_size_;
  return m;
}

int64_t BlockManager::admit(int64_t seq, std::span<const int32_t> tokens) {
  if (seqs_.count(seq)) fail("block manager: sequence {} admitted twice", seq);
  Seq s;
  if (prefix_caching_) {
    BlockKey parent = kRootBlockKey;
    const int64_t full = static_cast<int64_t>(tokens.size()) / block_size_;
    for (int64_t i = 0; i < full; ++i) {
      auto blk = tokens.subspan(i * block_size_, block_size_);
      BlockKey key = chain_block_key(parent, blk);
      int32_t b = cache_.find(key, parent, blk);
      if (b < 0) break;
      if (ref_[b] == 0) list_remove(b);
      ++ref_[b];
      s.table.push_back(b);
      s.keys.push_back(key);
      parent = key;
    }
  }
  int64_t cached = static_cast<int64_t>(s.table.size()) * block_size_;
  seqs_.emplace(seq, std::move(s));
  return cached;
}

int64_t BlockManager::blocks_needed(int64_t seq, int64_t num_tokens) const {
  int64_t have = static_cast<int64_t>(seq_at(seq).table.size());
  return std::max<int64_t>(0, blocks_for_tokens(num_tokens) - have);
}

void BlockManager::grow(int64_t seq, int64_t num_tokens) {
  Seq& s = seq_at(seq);
  int64_t need = blocks_for_tokens(num_tokens) - static_cast<int64_t>(s.table.size());
  if (need <= 0) return;
  if (need > num_free_)
    fail("block manager: sequence {} needs {} more KV blocks for {} tokens but only {} are free", seq,
         need, num_tokens, num_free_);
  for (int64_t i = 0; i < need; ++i) s.table.push_back(allocate());
}

void BlockManager::commit(int64_t seq, std::span<const int32_t> tokens) {
  Seq& s = seq_at(seq);
  const int64_t full = std::min<int64_t>(static_cast<int64_t>(tokens.size()) / block_size_,
                                         static_cast<int64_t>(s.table.size()));
  for (int64_t i = static_cast<int64_t>(s.keys.size()); i < full; ++i) {
    BlockKey parent = i == 0 ? kRootBlockKey : s.keys[i - 1];
    auto blk = tokens.subspan(i * block_size_, block_size_);
    BlockKey key = chain_block_key(parent, blk);
    s.keys.push_back(key);
    // A block already registered (it came from a prefix hit) keeps its entry.
    if (prefix_caching_ && !cache_.contains(s.table[i])) cache_.insert(s.table[i], key, parent, blk);
  }
}

void BlockManager::truncate(int64_t seq, int64_t num_tokens) {
  Seq& s = seq_at(seq);
  if (num_tokens < 0) fail("block manager: cannot truncate sequence {} to {} tokens", seq, num_tokens);
  if (num_tokens < static_cast<int64_t>(s.keys.size()) * block_size_)
    fail("block manager: truncating sequence {} to {} tokens would cut into its {} committed blocks",
         seq, num_tokens, s.keys.size());
  const int64_t keep = blocks_for_tokens(num_tokens);
  while (static_cast<int64_t>(s.table.size()) > keep) {
    unref(s.table.back());
    s.table.pop_back();
  }
}

void BlockManager::drop_before(int64_t seq, int64_t num_tokens) {
  Seq& s = seq_at(seq);
  const int64_t upto = std::min<int64_t>(num_tokens / block_size_, static_cast<int64_t>(s.table.size()));
  if (upto > static_cast<int64_t>(s.keys.size()))
    fail("block manager: sequence {} drops {} blocks but only {} are committed", seq, upto, s.keys.size());
  // Oldest first: with no parent left in this sequence, they are the first to be evicted.
  for (int64_t i = s.num_dropped; i < upto; ++i) {
    unref(s.table[i]);
    s.table[i] = kNoBlock;
  }
  s.num_dropped = std::max(s.num_dropped, upto);
}

void BlockManager::release(int64_t seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  // Last block first: leaves reach the LRU list before their parents, so they are evicted first.
  const auto& table = it->second.table;
  for (auto b = table.rbegin(); b != table.rend(); ++b)
    if (*b != kNoBlock) unref(*b);
  seqs_.erase(it);
}

const std::vector<int32_t>& BlockManager::table(int64_t seq) const { return seq_at(seq).table; }

int64_t BlockManager::num_committed_blocks(int64_t seq) const {
  return static_cast<int64_t>(seq_at(seq).keys.size());
}

std::vector<int64_t> BlockManager::sequences() const {
  std::vector<int64_t> out;
  for (const auto& [id, s] : seqs_) out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

void BlockManager::check_invariants() const {
  const int64_t n = num_blocks();
  std::vector<int32_t> refs(n, 0);
  for (const auto& [id, s] : seqs_) {
    if (s.keys.size() > s.table.size())
      fail("block manager invariant: sequence {} has more keys than blocks", id);
    for (size_t i = 0; i < s.table.size(); ++i) {
      const int32_t b = s.table[i];
      if (b == kNoBlock && static_cast<int64_t>(i) < s.num_dropped) continue;
      if (b < 0 || b >= n) fail("block manager invariant: sequence {} holds block id {} at {}", id, b, i);
      ++refs[b];
    }
  }
  int64_t free_count = 0, seen = 0;
  for (int32_t b = head_, prev = -1; b >= 0; prev = b, b = next_[b]) {
    if (++seen > n) fail("block manager invariant: the free list has a cycle");
    if (prev_[b] != prev) fail("block manager invariant: free list link broken at block {}", b);
    if (!in_free_[b]) fail("block manager invariant: block {} on the free list is not marked free", b);
    if (ref_[b] != 0) fail("block manager invariant: block {} is on the free list with ref-count {}", b, ref_[b]);
    ++free_count;
  }
  if (free_count != num_free_)
    fail("block manager invariant: the free list has {} blocks, the counter says {}", free_count, num_free_);
  for (int32_t b = 0; b < n; ++b) {
    if (refs[b] != ref_[b])
      fail("block manager invariant: block {} has ref-count {} but {} table entries", b, ref_[b], refs[b]);
    if ((ref_[b] == 0) != (in_free_[b] != 0))
      fail("block manager invariant: block {} ref-count {} disagrees with its free mark", b, ref_[b]);
  }
  for (int32_t b : cache_.blocks()) {
    if (b < 0 || b >= n) fail("block manager invariant: the cache holds block id {}", b);
  }
  // A registered block must sit in a table as a committed block with the same key, or be free.
  for (const auto& [id, s] : seqs_) {
    for (size_t i = 0; i < s.keys.size(); ++i) {
      int32_t b = s.table[i];
      if (prefix_caching_ && cache_.contains(b) && cache_.key_of(b) != s.keys[i])
        fail("block manager invariant: block {} of sequence {} is cached under another key", b, id);
    }
    for (size_t i = s.keys.size(); i < s.table.size(); ++i)
      if (cache_.contains(s.table[i]))
        fail("block manager invariant: uncommitted block {} of sequence {} is in the cache", s.table[i], id);
  }
}

}  // namespace ax
