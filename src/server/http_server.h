#pragma once
// The HTTP layer: binds the socket, runs cpp-httplib's worker threads, and wraps every route with
// what all of them share: API-key check, readiness (503 while the model loads), the in-flight
// limit for generation routes, OpenAI-shaped errors and request metrics. Routes themselves live
// in route_*.cpp and register through add_route().
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "server/server_context.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace ax::server {

// How a route is wrapped.
enum RouteFlags : int {
  kRouteOpen = 0,
  kRouteNeedsModel = 1,   // 503 until the model is loaded
  kRouteGeneration = 2,   // counts against --max-concurrent
  kRouteNoAuth = 4,       // /health and /metrics answer without the API key
};

using RouteHandler = std::function<void(const httplib::Request&, httplib::Response&)>;

class HttpServer {
 public:
  explicit HttpServer(ServingContext& ctx);
  ~HttpServer();

  // Binds host:port (port 0: any free port); throws ax::Error naming the address on failure.
  void bind();
  int port() const { return port_; }
  // Serves until stop(); returns once every worker thread has finished its request.
  void run();
  void stop();

  void add_route(const std::string& method, const std::string& path, int flags, RouteHandler handler);

 private:
  ServingContext& ctx_;
  std::unique_ptr<httplib::Server> http_;
  int port_ = 0;
};

// JSON responses (invalid UTF-8 in model text replaced, never thrown).
void send_json(httplib::Response& res, const nlohmann::json& body, int status = 200);

// Holds one slot of the --max-concurrent budget for as long as it lives (a stream keeps it in its
// content provider until the stream ends).
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

}  // namespace ax::server
