#include "server/live_requests.h"

namespace ax::server {
namespace {

struct Name {
  std::string id, route;
};
thread_local Name current_name;

}  // namespace

RequestName::RequestName(std::string id, std::string route) { current_name = {std::move(id), std::move(route)}; }

RequestName::~RequestName() { current_name = {}; }

uint64_t LiveRequests::add(int choices, int64_t prompt_tokens) {
  Entry e;
  e.id = current_name.id;
  e.route = current_name.route;
  e.started = std::chrono::steady_clock::now();
  e.choices = choices;
  e.prompt_tokens = prompt_tokens;
  std::lock_guard lock(mu_);
  entries_.emplace(next_, std::move(e));
  return next_++;
}

void LiveRequests::add_tokens(uint64_t key, int64_t n) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  if (it->second.completion_tokens == 0 && n > 0) it->second.first_token = std::chrono::steady_clock::now();
  it->second.completion_tokens += n;
}

void LiveRequests::remove(uint64_t key) {
  std::lock_guard lock(mu_);
  entries_.erase(key);
}

std::vector<LiveRequests::Entry> LiveRequests::snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<Entry> out;
  out.reserve(entries_.size());
  for (const auto& [key, e] : entries_) out.push_back(e);
  return out;
}

}  // namespace ax::server
