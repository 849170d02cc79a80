#pragma once
// The client side of the SSE streams the server sends (and any OpenAI-compatible server sends):
// POST a JSON body and read `data: {json}` events as they arrive, up to `data: [DONE]`. Used by
// `bench run --url` and the server's tests. Typed events ("event: NAME" then "data: ...") are read
// by their data.
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/httplib_config.h"

namespace ax::server {

struct SseResult {
  int status = 0;
  bool transport_ok = false;           // a response came (or we hung up on purpose)
  bool hung_up = false;                // on_event asked to stop
  std::vector<nlohmann::json> events;  // parsed data payloads, [DONE] excluded
  bool done = false;                   // saw data: [DONE]
  bool malformed = false;              // a data line that is not JSON, or a cut-off event
  std::string raw;                     // everything received (the error body on a non-200 status)
};

// on_event returns false to hang up (the client disconnects mid-stream). SSE comments
// (": keep-alive") are skipped. headers: extra request headers (Authorization).
SseResult post_sse(httplib::Client& cli, const std::string& path, const nlohmann::json& body,
                   std::function<bool(const nlohmann::json&)> on_event = nullptr,
                   const httplib::Headers& headers = {});

}  // namespace ax::server
