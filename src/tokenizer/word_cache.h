#pragma once
// Words already merged and their ids: text repeats its words, so most words are looked up, not
// merged. One open-addressing table of hashes into two arenas (word bytes, ids), guarded by a
// mutex (a Tokenizer is shared between threads). When half full (65,536 words) it starts over,
// which bounds its memory: 4 MB of slots plus at most 16 MB of words and their ids.
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace ax {

class WordCache {
 public:
  static constexpr size_t kMaxWordBytes = 256;  // longer words are rare: not cached

  WordCache();
  // Appends the cached ids of `word` to `out`; false when it is not cached.
  bool find(std::string_view word, std::vector<int32_t>& out) const;
  void insert(std::string_view word, const int32_t* ids, size_t n);

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t key_off = 0, key_len = 0;
    uint32_t ids_off = 0, ids_len = 0;
    bool used = false;
  };
  static constexpr size_t kSlots = 1 << 17;

  mutable std::mutex mu_;
  std::vector<Slot> slots_;
  std::string keys_;
  std::vector<int32_t> ids_;
  size_t size_ = 0;
};

}  // namespace ax
