#include "server/sse_client.h"

namespace ax::server {

SseResult post_sse(httplib::Client& cli, const std::string& path, const nlohmann::json& body,
                   std::function<bool(const nlohmann::json&)> on_event, const httplib::Headers& headers) {
  SseResult out;
  std::string buffer;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.headers = headers;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    out.raw.append(data, len);
    buffer.append(data, len);
    size_t end;
    while ((end = buffer.find("\n\n")) != std::string::npos) {
      std::string event = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      if (!event.empty() && event.back() == '\r') event.pop_back();
      if (event.rfind(":", 0) == 0) continue;  // comment (keep-alive)
      // Typed events (Anthropic's, the Responses API's) name themselves on a line before the
      // data; their data says the type again.
      if (event.rfind("event:", 0) == 0) {
        const size_t nl = event.find('\n');
        event.erase(0, nl == std::string::npos ? event.size() : nl + 1);
      }
      if (event.rfind("data:", 0) != 0) {
        out.malformed = true;
        continue;
      }
      std::string payload = event.substr(event.rfind("data: ", 0) == 0 ? 6 : 5);
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
        out.hung_up = true;
        return false;
      }
    }
    return true;
  };
  auto res = cli.send(req);
  out.transport_ok = static_cast<bool>(res) || out.hung_up;
  if (res) out.status = res->status;
  if (!buffer.empty()) out.malformed = true;
  return out;
}

}  // namespace ax::server
