#include "server/http_server.h"

#include <cctype>
#include <chrono>

#include "server/api_error.h"
#include "server/httplib_config.h"
#include "server/openai_response.h"
#include "util/error.h"

namespace ax::server {
namespace {

// Constant-time comparison, so response timing does not reveal how much of a key matched.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.size() ? b.size() : 1)]);
  return diff == 0;
}

void send_error(httplib::Response& res, const ApiError& e) {
  send_json(res, e.to_json(), e.status());
  if (e.retry_after_s() > 0) res.set_header("Retry-After", std::to_string(e.retry_after_s()));
}

// The key of "Authorization: Bearer <key>". The scheme is case-insensitive (RFC 7235: "bearer",
// "BEARER"); spaces around the key are not part of it. Empty when the header is something else.
std::string bearer_key(const std::string& header) {
  size_t i = header.find_first_not_of(' ');
  if (i == std::string::npos || header.size() - i < 7) return {};
  std::string scheme = header.substr(i, 6);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "bearer" || header[i + 6] != ' ') return {};
  const size_t begin = header.find_first_not_of(' ', i + 6);
  if (begin == std::string::npos) return {};
  return header.substr(begin, header.find_last_not_of(' ') + 1 - begin);
}

}  // namespace

void send_json(httplib::Response& res, const nlohmann::json& body, int status) {
  res.status = status;
  res.set_content(dump_json(body), "application/json");
}

InFlightSlot::InFlightSlot(ServingContext& ctx) : ctx_(ctx) {
  if (ctx_.in_flight.fetch_add(1) >= ctx_.options.max_concurrent) {
    ctx_.in_flight.fetch_sub(1);
    throw ApiError(429, fmt::format("The server is at its limit of {} concurrent generation requests; retry later.",
                                    ctx_.options.max_concurrent),
                   "rate_limit_error", "", "too_many_requests")
        .with_retry_after(1);
  }
  ctx_.metrics.set_in_flight_delta(1);
}

InFlightSlot::~InFlightSlot() {
  ctx_.in_flight.fetch_sub(1);
  ctx_.metrics.set_in_flight_delta(-1);
}

HttpServer::HttpServer(ServingContext& ctx) : ctx_(ctx), http_(std::make_unique<httplib::Server>()) {
  // Each streaming client holds a worker thread for its whole stream: enough for the in-flight
  // limit plus the quick routes.
  const size_t workers = static_cast<size_t>(std::max(8, ctx_.options.max_concurrent + 8));
  http_->new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  // SO_REUSEADDR only (restarts while old connections sit in TIME_WAIT): httplib's default adds
  // SO_REUSEPORT, which let a second server bind the same port and split its traffic.
  http_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  http_->set_payload_max_length(ctx_.options.max_body_bytes);
  http_->set_keep_alive_max_count(1000);
  http_->set_read_timeout(60, 0);
  http_->set_write_timeout(60, 0);

  // Errors httplib produces itself (404, 413 body too large, 400 bad request line) get
  // OpenAI's shape too.
  http_->set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string msg, code, type = "invalid_request_error";
    if (res.status == 404) {
      msg = fmt::format("No route {} {}.", req.method, req.path);
      code = "not_found";
    } else if (res.status == 413) {
      msg = fmt::format("The request body exceeds the server's limit of {} bytes.", ctx_.options.max_body_bytes);
      code = "request_too_large";
    } else if (res.status == 405) {
      msg = fmt::format("Method {} is not allowed on {}.", req.method, req.path);
      code = "method_not_allowed";
    } else {
      msg = fmt::format("HTTP error {}.", res.status);
      type = res.status >= 500 ? "server_error" : "invalid_request_error";
    }
    int status = res.status;
    send_error(res, ApiError(status, msg, type, "", code));
    ctx_.metrics.count_request("other", status);
  });
  http_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string msg = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      msg = e.what();
    } catch (...) {
    }
    send_error(res, ApiError(500, msg, "server_error"));
  });

  register_info_routes(*this, ctx_);
  register_token_routes(*this, ctx_);
  register_completion_routes(*this, ctx_);
  register_generate_routes(*this, ctx_);
  register_chat_routes(*this, ctx_);
  register_embedding_routes(*this, ctx_);
}

HttpServer::~HttpServer() = default;

void HttpServer::add_route(const std::string& method, const std::string& path, int flags, RouteHandler handler) {
  auto wrapped = [this, path, flags, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    try {
      if (!ctx_.options.api_key.empty() && !(flags & kRouteNoAuth)) {
        const std::string key = bearer_key(req.get_header_value("Authorization"));
        if (key.empty() || !same_secret(key, ctx_.options.api_key))
          throw ApiError(401, "Invalid or missing API key: send 'Authorization: Bearer <key>'.",
                         "invalid_request_error", "", "invalid_api_key");
      }
      if ((flags & kRouteNeedsModel) && !ctx_.ready.load())
        throw ApiError(503, "The model is still loading; retry shortly.", "server_error", "", "model_loading")
            .with_retry_after(1);
      if ((flags & kRouteGeneration) && ctx_.shutting_down.load())
        throw ApiError(503, "The server is shutting down.", "server_error", "", "shutting_down");
      handler(req, res);
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const ax::Error& e) {
      // Errors from the layers below name what was wrong with the input (a prompt too long for
      // the context, a token outside the vocabulary).
      send_error(res, ApiError(400, e.what(), "invalid_request_error", "", "invalid_request"));
    } catch (const std::exception& e) {
      send_error(res, ApiError(500, e.what(), "server_error"));
    }
    // A stream's status is set when its provider starts writing: 200.
    ctx_.metrics.count_request(path, res.status < 0 ? 200 : res.status);
  };
  if (method == "GET") http_->Get(path, wrapped);
  else if (method == "POST") http_->Post(path, wrapped);
  else fail("add_route: method {} is not supported", method);
}

void HttpServer::bind() {
  if (ctx_.options.port == 0) {
    port_ = http_->bind_to_any_port(ctx_.options.host);
    if (port_ <= 0) fail("--host {}: cannot bind to any port", ctx_.options.host);
  } else {
    if (!http_->bind_to_port(ctx_.options.host, ctx_.options.port))
      fail("--host {} --port {}: cannot bind (address in use or not available)", ctx_.options.host, ctx_.options.port);
    port_ = ctx_.options.port;
  }
}

void HttpServer::run() { http_->listen_after_bind(); }

void HttpServer::stop() { http_->stop(); }

}  // namespace ax::server
