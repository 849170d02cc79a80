#include "tokenizer/word_cache.h"

#include <xxhash.h>

#include <algorithm>

namespace ax {

WordCache::WordCache() : slots_(kSlots) {}

bool WordCache::find(std::string_view word, std::vector<int32_t>& out) const {
  const uint64_t h = XXH3_64bits(word.data(), word.size());
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = h & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
    const Slot& s = slots_[i];
    if (!s.used) return false;
    if (s.hash == h && std::string_view(keys_).substr(s.key_off, s.key_len) == word) {
      out.insert(out.end(), ids_.begin() + s.ids_off, ids_.begin() + s.ids_off + s.ids_len);
      return true;
    }
  }
}

void WordCache::insert(std::string_view word, const int32_t* ids, size_t n) {
  if (word.size() > kMaxWordBytes) return;
  const uint64_t h = XXH3_64bits(word.data(), word.size());
  std::lock_guard<std::mutex> lock(mu_);
  if (2 * (size_ + 1) > kSlots) {  // start over
    std::fill(slots_.begin(), slots_.end(), Slot{});
    keys_.clear();
    ids_.clear();
    size_ = 0;
  }
  size_t i = h & (kSlots - 1);
  for (; slots_[i].used; i = (i + 1) & (kSlots - 1)) {
    const Slot& s = slots_[i];
    if (s.hash == h && std::string_view(keys_).substr(s.key_off, s.key_len) == word) return;
  }
  Slot& s = slots_[i];
  s = {h, static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(word.size()),
       static_cast<uint32_t>(ids_.size()), static_cast<uint32_t>(n), true};
  keys_.append(word);
  ids_.insert(ids_.end(), ids, ids + n);
  ++size_;
}

}  // namespace ax
