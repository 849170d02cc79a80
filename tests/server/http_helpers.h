#pragma once
// What the server tests over HTTP share: JSON posts, typed SSE streams (Anthropic's and the
// Responses API's "event: NAME" + "data: JSON"), and waiting for the engine to go idle.
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "server_process.h"

namespace ax::test {

inline nlohmann::json post_json(httplib::Client& cli, const std::string& path, const nlohmann::json& body,
                                int* status = nullptr, const httplib::Headers& headers = {}) {
  auto res = cli.Post(path.c_str(), headers, body.dump(), "application/json");
  if (!res) return nlohmann::json{{"transport_error", true}};
  if (status) *status = res->status;
  return nlohmann::json::parse(res->body, nullptr, false);
}

// Waits until no sequence runs and no KV block is referenced.
inline bool engine_drains(httplib::Client& cli, double seconds = 20) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (metric(cli, "ax_kv_blocks_used") == 0 && metric(cli, "ax_requests_running") == 0 &&
        metric(cli, "ax_requests_waiting") == 0)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Waits until a metric rises above value (a cancellation counted, ...); false if it did not in time.
inline bool metric_rises_above(httplib::Client& cli, const std::string& name, double value, double seconds = 20) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (metric(cli, name) <= value) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// The typed events of an SSE body in order: {name, data}. Comments (": keep-alive") are skipped;
// an event without a name gets "".
struct TypedEvent {
  std::string name;
  nlohmann::json data;
};
inline std::vector<TypedEvent> typed_events(const std::string& raw) {
  std::vector<TypedEvent> out;
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t end = raw.find("\n\n", pos);
    if (end == std::string::npos) end = raw.size();
    const std::string block = raw.substr(pos, end - pos);
    pos = end + 2;
    TypedEvent e;
    bool any = false;
    size_t line_start = 0;
    while (line_start < block.size()) {
      size_t nl = block.find('\n', line_start);
      if (nl == std::string::npos) nl = block.size();
      const std::string line = block.substr(line_start, nl - line_start);
      line_start = nl + 1;
      if (line.rfind("event: ", 0) == 0) e.name = line.substr(7), any = true;
      if (line.rfind("data: ", 0) == 0) e.data = nlohmann::json::parse(line.substr(6), nullptr, false), any = true;
    }
    if (any) out.push_back(std::move(e));
  }
  return out;
}

// POSTs a streaming body and returns its raw text and status.
inline std::pair<int, std::string> post_stream(httplib::Client& cli, const std::string& path, const nlohmann::json& body,
                                               const httplib::Headers& headers = {}) {
  auto res = cli.Post(path.c_str(), headers, body.dump(), "application/json");
  if (!res) return {0, ""};
  return {res->status, res->body};
}

}  // namespace ax::test
