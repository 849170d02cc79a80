#pragma once
// Which KV blocks each sequence uses. The physical pool (KvCache) only knows block geometry; this
// class decides ownership: a free list, reference counts, per-sequence block tables, and sharing
// of full prefix blocks through the PrefixCache.
//
// Block life cycle:
//   free, uncached  --allocate-->  referenced (private, being filled)
//   referenced      --commit (block full, K/V final)-->  referenced + registered in the cache
//   registered      --another sequence's prefix hit-->  ref-count + 1 (shared, never written again)
//   ref-count -> 0  --> free: uncached blocks go to the FRONT of the free list (reused first),
//                       cached blocks to the BACK (least recently released is evicted first)
//   allocate() takes the front; if that block is still cached, its cache entry is dropped.
//
// Leaves are evicted before their parents: a sequence releases its blocks last-to-first, and a
// block is only referenced together with all of its ancestors, so a parent's last release is never
// earlier than its children's. (drop_before is the exception: a sliding-window sequence releases
// its oldest blocks while it still holds their children; an orphaned child entry is only matched
// again after its parent is recomputed under the same key, and is evicted as LRU otherwise.)
//
// Length vs. blocks: the table covers some number of positions; how many of them hold computed K/V
// is the engine's business (Sequence::num_computed). truncate() shortens the table in O(blocks
// dropped) for speculative rollback; commit() registers the full blocks whose K/V is final.
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "backend/step_input.h"
#include "engine/prefix_cache.h"

namespace ax {

struct PrefixMatch {
  int64_t num_blocks = 0;       // leading full blocks found in the cache
  int64_t num_tokens = 0;       // num_blocks * block_size
  int64_t num_free_blocks = 0;  // of those, blocks no live sequence holds (admission takes them
                                // off the free list, so they count against free blocks)
};

class BlockManager {
 public:
  BlockManager(int64_t num_blocks, int64_t block_size, bool prefix_caching = true);

  int64_t num_blocks() const { return static_cast<int64_t>(ref_.size()); }
  int64_t block_size() const { return block_size_; }
  int64_t num_free() const { return num_free_; }  // unreferenced (including evictable cached)
  int64_t num_used() const { return num_blocks() - num_free_; }
  int64_t num_cached() const { return cache_.size(); }  // registered, referenced or not
  int64_t num_evictions() const { return evictions_; }  // cached blocks reused for other tokens
  bool prefix_caching() const { return prefix_caching_; }
  std::span<const int32_t> ref_counts() const { return ref_; }
  int64_t blocks_for_tokens(int64_t num_tokens) const { return (num_tokens + block_size_ - 1) / block_size_; }

  // The cached full-block prefix of tokens (no side effects). Callers pass only the tokens they
  // may take from the cache: at least the last prompt token must be computed to get logits.
  PrefixMatch match(std::span<const int32_t> tokens) const;

  // Starts a sequence: its table begins with the blocks match(tokens) finds (ref-counted), which
  // count as committed. Returns the number of cached tokens.
  int64_t admit(int64_t seq, std::span<const int32_t> tokens);
  bool has(int64_t seq) const { return seqs_.count(seq) != 0; }

  // New blocks the table needs to cover num_tokens positions (0 if it already does).
  int64_t blocks_needed(int64_t seq, int64_t num_tokens) const;
  // Extends the table to cover num_tokens positions; throws if the pool is short (the scheduler
  // plans so that it never is).
  void grow(int64_t seq, int64_t num_tokens);

  // tokens: the sequence's tokens whose K/V is computed and final. Registers every full block
  // among them that is not yet registered.
  void commit(int64_t seq, std::span<const int32_t> tokens);

  // Shortens the table to cover num_tokens positions (speculative rollback). Committed blocks are
  // immutable: num_tokens must not cut into them.
  void truncate(int64_t seq, int64_t num_tokens);

  // Releases the sequence's blocks wholly before position num_tokens (they fell out of every
  // sliding window; they must be committed). Their table entries become kNoBlock, which no
  // attention reads: a window starts after them. Cached blocks stay cached for prefix hits.
  void drop_before(int64_t seq, int64_t num_tokens);
  static constexpr int32_t kNoBlock = StepInput::kReleased;

  // Drops the sequence and its references (finish, cancel, preemption).
  void release(int64_t seq);

  const std::vector<int32_t>& table(int64_t seq) const;
  int64_t num_committed_blocks(int64_t seq) const;
  std::vector<int64_t> sequences() const;

  // Throws ax::Error naming the first broken invariant: ref-counts equal table occurrences, the
  // free list holds exactly the unreferenced blocks once each, cache entries are consistent.
  void check_invariants() const;
  const PrefixCache& cache() const { return cache_; }

 private:
  struct Seq {
    std::vector<int32_t> table;  // block ids in position order
    std::vector<BlockKey> keys;  // keys of the leading committed blocks
    int64_t num_dropped = 0;     // leading table entries released by drop_before (kNoBlock)
  };
  Seq& seq_at(int64_t seq);
  const Seq& seq_at(int64_t seq) const;
  int32_t allocate();
  void unref(int32_t block);
  void list_remove(int32_t b);
  void list_push_front(int32_t b);
  void list_push_back(int32_t b);

  int64_t block_size_;
  bool prefix_caching_;
  std::vector<int32_t> ref_;
  // The free list: intrusive, doubly linked over block ids so a cache hit on a free block removes
  // it in O(1). head_ is reused next.
  std::vector<int32_t> prev_, next_;
  std::vector<uint8_t> in_free_;
  int32_t head_ = -1, tail_ = -1;
  int64_t num_free_ = 0;
  int64_t evictions_ = 0;
  std::unordered_map<int64_t, Seq> seqs_;
  PrefixCache cache_;
};

}  // namespace ax
