#pragma once
// The prefix cache: which physical KV block already holds a given full block of tokens at a given
// place in a sequence. A block's key is xxhash64 over its tokens, seeded with its parent's key,
// so the key names the whole prefix up to and including the block; a hit is confirmed by
// comparing the stored tokens and parent key (a 64-bit collision can never serve wrong K/V).
//
// Only FULL blocks are ever keyed: a partially filled last block is private to its sequence, so a
// shared block is never written again and no copy-on-write is needed.
//
// This class is only the index (key <-> block id). Reference counts, the free list and the LRU
// order in which unreferenced cached blocks are evicted live in BlockManager.
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace ax {

using BlockKey = uint64_t;

// The parent key of a sequence's first block.
inline constexpr BlockKey kRootBlockKey = 0x243F6A8885A308D3ull;  // pi's fraction bits

// Chained key of one full block: xxhash64(tokens as int32 bytes, seed = parent).
BlockKey chain_block_key(BlockKey parent, std::span<const int32_t> tokens);

class PrefixCache {
 public:
  explicit PrefixCache(int64_t block_size);

  int64_t block_size() const { return block_size_; }
  int64_t size() const { return static_cast<int64_t>(by_block_.size()); }

  // The block registered under key whose parent and tokens match exactly, or -1.
  int32_t find(BlockKey key, BlockKey parent, std::span<const int32_t> tokens) const;

  // Registers a just-filled block. Returns false (and registers nothing) when the key is already
  // held by another block: two sequences computed the same prefix at once; the first one wins and
  // the second block stays private to its sequence.
  bool insert(int32_t block, BlockKey key, BlockKey parent, std::span<const int32_t> tokens);

  // Forgets a block (it is being reused for other tokens). No-op for blocks not registered.
  void erase(int32_t block);

  bool contains(int32_t block) const { return by_block_.count(block) != 0; }
  // The key a registered block was stored under (block must be registered).
  BlockKey key_of(int32_t block) const;
  BlockKey parent_of(int32_t block) const;
  bool contains_key(BlockKey key) const { return by_key_.count(key) != 0; }
  // All registered blocks (for invariant checks in tests).
  std::vector<int32_t> blocks() const;

 private:
  struct Entry {
    BlockKey key;
    BlockKey parent;
    std::vector<int32_t> tokens;  // [block_size], the check on every hit
  };
  int64_t block_size_;
  std::unordered_map<BlockKey, int32_t> by_key_;
  std::unordered_map<int32_t, Entry> by_block_;
};

}  // namespace ax
