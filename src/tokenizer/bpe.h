#pragma once
// Rank-ordered BPE merging over token ids. A word starts as one symbol per byte (byte-level BPE)
// or per character (SentencePiece-style BPE); the adjacent pair with the lowest merge rank is
// merged first (leftmost on ties), as in tokenizers and llama.cpp. Pairs are looked up by their
// two ids in a hash map; the symbols form a linked list and candidate pairs sit in a min-heap, so
// a word of n symbols costs O(n log n).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tokenizer/flat_index.h"

namespace ax {

class BpeMerges {
 public:
  void reserve(size_t n) { table_.reserve(n); }
  // Adds the rule "left right -> result"; the first rule added for a pair keeps its rank.
  void add(int32_t left, int32_t right, int32_t result);
  size_t size() const { return table_.size(); }
  // Merges `ids` in place. Entries < 0 (characters with no token) never merge.
  void apply(std::vector<int32_t>& ids) const;

 private:
  struct Rule {
    int32_t rank;
    int32_t result;
  };
  static uint64_t key(int32_t l, int32_t r) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
  }
  const Rule* find(int32_t l, int32_t r) const {
    if (l < 0 || r < 0) return nullptr;
    return table_.find(key(l, r));
  }
  FlatU64Map<Rule> table_;
  int32_t next_rank_ = 0;
};

}  // namespace ax
