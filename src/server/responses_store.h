#pragma once
// Responses kept for previous_response_id and GET /v1/responses/{id}, within the server's
// lifetime and bounded: at most max_entries responses and max_bytes of their JSON, the least
// recently used dropped first (a follow-up to a dropped one is a 404). Thread-safe.
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

namespace ax::server {

struct StoredResponse {
  nlohmann::json response;               // the response object as returned
  nlohmann::ordered_json conversation;   // chat messages: the history, the input, the reply
};

class ResponseStore {
 public:
  ResponseStore(size_t max_entries, size_t max_bytes) : max_entries_(max_entries), max_bytes_(max_bytes) {}

  void put(const std::string& id, StoredResponse r);
  std::optional<StoredResponse> get(const std::string& id);  // and marks it recently used
  size_t size() const;
  size_t bytes() const;

 private:
  struct Entry {
    std::string id;
    StoredResponse value;
    size_t bytes = 0;
  };
  const size_t max_entries_, max_bytes_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  size_t bytes_ = 0;
};

}  // namespace ax::server
