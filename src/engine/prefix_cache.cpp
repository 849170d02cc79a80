#include "engine/prefix_cache.h"

#include <xxhash.h>

#include <algorithm>

#include "util/error.h"

namespace ax {

BlockKey chain_block_key(BlockKey parent, std::span<const int32_t> tokens) {
  return XXH64(tokens.data(), tokens.size_bytes(), parent);
}

PrefixCache::PrefixCache(int64_t block_size) : block_size_(block_size) {
  if (block_size <= 0) fail("prefix cache: block_size must be positive, got {}", block_size);
}

int32_t PrefixCache::find(BlockKey key, BlockKey parent, std::span<const int32_t> tokens) const {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return -1;
  const Entry& e = by_block_.at(it->second);
  if (e.parent != parent || !std::equal(tokens.begin(), tokens.end(), e.tokens.begin(), e.tokens.end()))
    return -1;  // a hash collision: never serve K/V computed for other tokens
  return it->second;
}

bool PrefixCache::insert(int32_t block, BlockKey key, BlockKey parent, std::span<const int32_t> tokens) {
  if (static_cast<int64_t>(tokens.size()) != block_size_)
    fail("prefix cache: block {} registered with {} tokens, expected a full block of {}", block,
         tokens.size(), block_size_);
  if (by_block_.count(block)) fail("prefix cache: block {} is already registered", block);
  if (by_key_.count(key)) return false;
  by_key_.emplace(key, block);
  by_block_.emplace(block, Entry{key, parent, std::vector<int32_t>(tokens.begin(), tokens.end())});
  return true;
}

void PrefixCache::erase(int32_t block) {
  auto it = by_block_.find(block);
  if (it == by_block_.end()) return;
  by_key_.erase(it->second.key);
  by_block_.erase(it);
}

BlockKey PrefixCache::key_of(int32_t block) const { return by_block_.at(block).key; }
BlockKey PrefixCache::parent_of(int32_t block) const { return by_block_.at(block).parent; }

std::vector<int32_t> PrefixCache::blocks() const {
  std::vector<int32_t> out;
  out.reserve(by_block_.size());
  for (const auto& [b, e] : by_block_) out.push_back(b);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ax
