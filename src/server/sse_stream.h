#pragma once
// Server-sent events from a ChoiceGroup: the route supplies how each engine event becomes SSE
// text; this drives the group on the HTTP worker thread (never the engine's), writes as events
// arrive, and cancels the engine requests when the client goes away (a failed write, or the
// transport seeing the connection close) or the server's shutdown grace runs out. Quiet periods (a long prefill) send an SSE comment every
// second, which both keeps proxies from timing out and finds a vanished client early.
#include <functional>
#include <memory>
#include <string>

#include "server/http_message.h"
#include "server/http_server.h"
#include "server/api_error.h"
#include "server/serving.h"

namespace ax::server {

struct SseJob {
  std::unique_ptr<ChoiceGroup> group;
  std::function<std::string()> on_start;                         // before any event
  std::function<std::string(size_t, const Event&)> on_event;     // Token and normal Finish events
  std::function<std::string()> on_end;                           // after the last Finish, before [DONE]
  // An error after the headers went out, as the stream's last event(s). Unset: OpenAI chat's
  // "data: {"error": ...}" then [DONE].
  std::function<std::string(const ApiError&)> on_error;
  std::string keep_alive = ": keep-alive\n\n";  // what a quiet second sends
  bool done_marker = true;                        // "data: [DONE]" ends the stream (OpenAI chat)
  std::string content_type = "text/event-stream";  // Ollama's streams are NDJSON
};

// "event: <name>\ndata: <json>\n\n" (Anthropic's and the Responses API's typed events).
std::string sse_event(const std::string& name, const nlohmann::json& data);

// Streams job to the client on the calling (worker) thread and returns when the stream is over;
// the group's requests are cancelled if the client went away first.
void stream_sse(const HttpRequest& req, HttpResponse& res, ServingContext& ctx, SseJob& job);

// Runs a group to its end on the calling thread (blocking responses). A Finish with an error, or
// the shutdown cancelling it, throws ApiError; a client that hung up cancels the group (the answer
// could not be delivered) and throws too.
void run_blocking(const HttpRequest& req, ServingContext& ctx, ChoiceGroup& group,
                  const std::function<void(size_t, const Event&)>& on_event);

// The error a Finish event carries (reason Error or Cancelled) as an ApiError.
ApiError finish_error(const Event& e);

}  // namespace ax::server
