#pragma once
// Open-addressing hash tables for the tokenizer's hot lookups (linear probing, power-of-two
// capacity, at most half full). std::unordered_map's node per entry costs a cache miss per probe;
// these keep entries in one array.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <xxhash.h>

namespace ax {

// uint64 key -> value (keys must not be kEmpty).
template <typename V>
class FlatU64Map {
 public:
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    if (cap > slots_.size()) rehash(cap);
  }
  // Inserts when absent; returns false (and keeps the old value) when present.
  bool insert(uint64_t key, const V& value) {
    if (2 * (size_ + 1) > slots_.size()) rehash(slots_.empty() ? 16 : slots_.size() * 2);
    size_t i = slot(key);
    while (slots_[i].key != kEmpty) {
      if (slots_[i].key == key) return false;
      i = (i + 1) & mask_;
    }
    slots_[i] = {key, value};
    ++size_;
    return true;
  }
  const V* find(uint64_t key) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint64_t key = kEmpty;
    V value{};
  };
  size_t slot(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }
  void rehash(size_t cap) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    shift_ = 64 - __builtin_ctzll(cap);
    size_ = 0;
    for (const Slot& s : old)
      if (s.key != kEmpty) insert(s.key, s.value);
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

// Vocabulary string -> id over strings the caller keeps (the vocabulary); the first id added for
// a string wins.
class PieceIndex {
 public:
  void build(const std::vector<std::string>& pieces) {
    pieces_ = &pieces;
    size_t cap = 16;
    while (cap < 2 * pieces.size()) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    for (size_t id = 0; id < pieces.size(); ++id) {
      const std::string& p = pieces[id];
      if (p.empty()) continue;
      uint64_t h = XXH3_64bits(p.data(), p.size());
      size_t i = h & mask_;
      bool dup = false;
      while (slots_[i].id >= 0) {
        if (slots_[i].tag == static_cast<uint32_t>(h >> 32) && pieces[slots_[i].id] == p) {
          dup = true;
          break;
        }
        i = (i + 1) & mask_;
      }
      if (!dup) slots_[i] = {static_cast<uint32_t>(h >> 32), static_cast<int32_t>(id)};
    }
  }
  int32_t find(std::string_view s) const {
    if (slots_.empty() || s.empty()) return -1;
    uint64_t h = XXH3_64bits(s.data(), s.size());
    const auto tag = static_cast<uint32_t>(h >> 32);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& sl = slots_[i];
      if (sl.id < 0) return -1;
      if (sl.tag == tag && (*pieces_)[sl.id] == s) return sl.id;
    }
  }

 private:
  struct Slot {
    uint32_t tag = 0;  // high half of the hash: most mismatches end without a string compare
    int32_t id = -1;
  };
  const std::vector<std::string>* pieces_ = nullptr;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

}  // namespace ax
