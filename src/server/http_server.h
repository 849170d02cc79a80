#pragma once
// The HTTP layer's policy over the transport (http_transport.h): routes, and what every route
// shares: API-key check, readiness (503 while the model loads), the in-flight limit for generation
// routes (429), OpenAI-shaped errors and request metrics. Those checks run on the I/O thread, so
// a refused request never waits for a worker. Routes themselves live in route_*.cpp and register
// through add_route().
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/http_message.h"
#include "server/server_context.h"

namespace ax::server {

class HttpTransport;
struct Dispatch;

// How a route is wrapped.
enum RouteFlags : int {
  kRouteOpen = 0,
  kRouteNeedsModel = 1,   // 503 until the model is loaded
  kRouteGeneration = 2,   // holds one of --max-concurrent slots while it runs (429 when none is free)
  kRouteNoAuth = 4,       // /health and /metrics answer without the API key
  kRouteInline = 8,       // quick and non-blocking: answered on the I/O thread, never queued
  kRouteBrowser = 16,     // a page a browser opens: a 401 asks it for the key (HTTP Basic)
  kRouteAnthropic = 32,   // an Anthropic API route: errors in Anthropic's shape
  kRouteOllama = 64,      // an Ollama API route (/api/...): errors as {"error": "..."}
};

using RouteHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

class HttpServer {
 public:
  explicit HttpServer(ServingContext& ctx);
  ~HttpServer();

  // Binds host:port (port 0: any free port); throws ax::Error naming the address on failure.
  void bind();
  int port() const;
  // Serves until stop(); returns once every connection and handler has finished.
  void run();
  void stop();

  // path: exact, or a regular expression whose groups become HttpRequest::path_params.
  void add_route(const std::string& method, const std::string& path, int flags, RouteHandler handler);

 private:
  struct Route {
    std::string method, path;
    bool pattern;
    std::regex re;
    int flags;
    RouteHandler handler;
  };
  Dispatch dispatch(HttpRequest& req);
  void error_body(int status, const std::string& message, HttpResponse& res) const;

  ServingContext& ctx_;
  std::vector<Route> routes_;
  std::unique_ptr<HttpTransport> transport_;
};

// JSON responses (invalid UTF-8 in model text replaced, never thrown).
void send_json(HttpResponse& res, const nlohmann::json& body, int status = 200);

// Holds one slot of the --max-concurrent budget for as long as it lives.
class InFlightSlot {
 public:
  explicit InFlightSlot(ServingContext& ctx);  // throws ApiError 429 when the budget is spent
  ~InFlightSlot();
  InFlightSlot(const InFlightSlot&) = delete;
  InFlightSlot& operator=(const InFlightSlot&) = delete;

 private:
  ServingContext& ctx_;
};

// Every route file registers itself here (called by HttpServer's constructor).
void register_info_routes(HttpServer& http, ServingContext& ctx);
void register_token_routes(HttpServer& http, ServingContext& ctx);
void register_completion_routes(HttpServer& http, ServingContext& ctx);
void register_generate_routes(HttpServer& http, ServingContext& ctx);
void register_chat_routes(HttpServer& http, ServingContext& ctx);
void register_embedding_routes(HttpServer& http, ServingContext& ctx);
void register_console_routes(HttpServer& http, ServingContext& ctx);
void register_messages_routes(HttpServer& http, ServingContext& ctx);
void register_responses_routes(HttpServer& http, ServingContext& ctx);
void register_ollama_routes(HttpServer& http, ServingContext& ctx);
void register_ollama_model_routes(HttpServer& http, ServingContext& ctx);

}  // namespace ax::server
