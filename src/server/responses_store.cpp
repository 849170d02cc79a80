#include "server/responses_store.h"

#include "server/openai_response.h"

namespace ax::server {

void ResponseStore::put(const std::string& id, StoredResponse r) {
  const size_t bytes = dump_json(r.response).size() + dump_json(nlohmann::json(r.conversation)).size();
  std::lock_guard lock(mu_);
  if (max_entries_ == 0 || bytes > max_bytes_) return;  // never fits: not kept
  if (auto it = index_.find(id); it != index_.end()) {
    bytes_ -= it->second->bytes;
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.push_front({id, std::move(r), bytes});
  index_[id] = lru_.begin();
  bytes_ += bytes;
  while (lru_.size() > max_entries_ || bytes_ > max_bytes_) {
    bytes_ -= lru_.back().bytes;
    index_.erase(lru_.back().id);
    lru_.pop_back();
  }
}

std::optional<StoredResponse> ResponseStore::get(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->value;
}

size_t ResponseStore::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

size_t ResponseStore::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

}  // namespace ax::server
