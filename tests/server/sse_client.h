#pragma once
// Test helper: POST a request and read its SSE stream event by event (header-only).
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "httplib_client.h"

namespace ax::test {

struct SseResult {
  int status = 0;
  bool transport_ok = false;
  std::vector<nlohmann::json> events;  // parsed data payloads, [DONE] excluded
  bool done = false;                   // saw data: [DONE]
  bool malformed = false;              // a data line that is not JSON
  std::string raw;
};

// on_event returns false to hang up (the client disconnects mid-stream).
inline SseResult post_sse(httplib::Client& cli, const std::string& path, const nlohmann::json& body,
                          std::function<bool(const nlohmann::json&)> on_event = nullptr) {
  SseResult out;
  std::string buffer;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  bool hung_up = false;
  req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    out.raw.append(data, len);
    buffer.append(data, len);
    size_t end;
    while ((end = buffer.find("\n\n")) != std::string::npos) {
      std::string event = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      if (event.rfind(":", 0) == 0) continue;  // comment (keep-alive)
      if (event.rfind("data: ", 0) != 0) {
        out.malformed = true;
        continue;
      }
      std::string payload = event.substr(6);
      if (payload == "[DONE]") {
        out.done = true;
        continue;
      }
      auto j = nlohmann::json::parse(payload, nullptr, false);
      if (j.is_discarded()) {
        out.malformed = true;
        continue;
      }
      out.events.push_back(j);
      if (on_event && !on_event(j)) {
        hung_up = true;
        return false;
      }
    }
    return true;
  };
  auto res = cli.send(req);
  out.transport_ok = static_cast<bool>(res) || hung_up;
  if (res) out.status = res->status;
  if (!buffer.empty()) out.malformed = true;
  return out;
}

}  // namespace ax::test
