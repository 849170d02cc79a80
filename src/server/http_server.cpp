#include "server/http_server.h"

#include <cctype>

#include "server/api_error.h"
#include "server/crash_report.h"
#include "server/http_transport.h"
#include "server/openai_response.h"
#include "util/base64.h"
#include "util/error.h"

namespace ax::server {
namespace {

// Constant-time comparison, so response timing does not reveal how much of a key matched.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.size() ? b.size() : 1)]);
  return diff == 0;
}

void send_error(HttpResponse& res, const ApiError& e, int flags = kRouteOpen) {
  const nlohmann::json body = (flags & kRouteAnthropic) ? e.to_anthropic_json()
                              : (flags & kRouteOllama) ? e.to_ollama_json()
                                                       : e.to_json();
  send_json(res, body, e.status());
  if (e.retry_after_s() > 0) res.set_header("Retry-After", std::to_string(e.retry_after_s()));
}

// The key an Authorization header carries: "Bearer <key>" (API clients), or "Basic
// base64(user:key)" (a browser that asked its user for the console's credentials; the user name
// is not checked). Schemes are case-insensitive (RFC 7235: "bearer", "BEARER"); spaces around the
// credentials are not part of them. Empty when the header is something else.
std::string request_key(const std::string& header) {
  const size_t i = header.find_first_not_of(' ');
  if (i == std::string::npos) return {};
  const size_t space = header.find(' ', i);
  if (space == std::string::npos) return {};
  std::string scheme = header.substr(i, space - i);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t begin = header.find_first_not_of(' ', space);
  if (begin == std::string::npos) return {};
  const std::string credentials = header.substr(begin, header.find_last_not_of(' ') + 1 - begin);
  if (scheme == "bearer") return credentials;
  if (scheme != "basic") return {};
  const std::optional<std::string> user_key = base64_decode(credentials);
  const size_t colon = user_key ? user_key->find(':') : std::string::npos;
  return colon == std::string::npos ? std::string() : user_key->substr(colon + 1);
}

// Runs a route and turns whatever it throws into an error in the route's API's shape.
void run_route(const RouteHandler& handler, int flags, const HttpRequest& req, HttpResponse& res) {
  try {
    handler(req, res);
  } catch (const ApiError& e) {
    if (!res.streaming()) send_error(res, e, flags);
  } catch (const ax::Error& e) {
    // Errors from the layers below name what was wrong with the input (a prompt too long for
    // the context, a token outside the vocabulary).
    if (!res.streaming()) send_error(res, ApiError(400, e.what(), "invalid_request_error", "", "invalid_request"), flags);
  } catch (const std::exception& e) {
    if (!res.streaming()) send_error(res, ApiError(500, e.what(), "server_error"), flags);
  }
}

}  // namespace

void send_json(HttpResponse& res, const nlohmann::json& body, int status) {
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

HttpServer::HttpServer(ServingContext& ctx) : ctx_(ctx) {
  const ServerOptions& o = ctx_.options;
  TransportOptions t;
  t.host = o.host;
  t.port = o.port;
  t.limits.max_body_bytes = o.max_body_bytes;
  t.max_connections = o.max_connections;
  t.head_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.head_timeout_s * 1000));
  t.body_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.body_timeout_s * 1000));
  t.write_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.write_timeout_s * 1000));
  // Each generation request (streaming or not) holds a worker while it runs; the rest are quick.
  t.max_workers = static_cast<size_t>(o.max_concurrent) + 16;
  t.access_log = o.log_requests;
  transport_ = std::make_unique<HttpTransport>(
      t, [this](HttpRequest& req) { return dispatch(req); },
      [this](int status, const std::string& message, HttpResponse& res) {
        error_body(status, message, res);
        ctx_.metrics.count_request("other", status);
      });

  register_info_routes(*this, ctx_);
  register_token_routes(*this, ctx_);
  register_completion_routes(*this, ctx_);
  register_generate_routes(*this, ctx_);
  register_chat_routes(*this, ctx_);
  register_embedding_routes(*this, ctx_);
  register_console_routes(*this, ctx_);
  register_messages_routes(*this, ctx_);
  register_responses_routes(*this, ctx_);
  register_ollama_routes(*this, ctx_);
  register_ollama_model_routes(*this, ctx_);
}

HttpServer::~HttpServer() = default;

void HttpServer::error_body(int status, const std::string& message, HttpResponse& res) const {
  std::string msg = message, code, type = status >= 500 ? "server_error" : "invalid_request_error";
  if (status == 413) {
    msg = fmt::format("The request body exceeds the server's limit of {} bytes.", ctx_.options.max_body_bytes);
    code = "request_too_large";
  } else if (status == 431) {
    code = "headers_too_large";
  } else if (status == 503) {
    code = "too_many_connections";
  } else if (msg.empty()) {
    msg = fmt::format("HTTP error {}.", status);
  }
  send_error(res, ApiError(status, msg, type, "", code));
}

void HttpServer::add_route(const std::string& method, const std::string& path, int flags, RouteHandler handler) {
  if (method != "GET" && method != "POST") fail("add_route: method {} is not supported", method);
  const bool pattern = path.find('(') != std::string::npos;
  routes_.push_back({method, path, pattern, pattern ? std::regex(path) : std::regex(), flags, std::move(handler)});
}

// On the I/O thread: find the route and run every check that needs no worker.
Dispatch HttpServer::dispatch(HttpRequest& req) {
  // basic_challenge: a 401 to a browser page asks the browser to prompt for the key.
  auto answer = [&](ApiError e, const std::string& metric_path, bool basic_challenge = false, int flags = kRouteOpen) {
    ctx_.metrics.count_request(metric_path, e.status());
    return Dispatch{true, [e = std::move(e), basic_challenge, flags](HttpRequest&, HttpResponse& res) {
                      send_error(res, e, flags);
                      if (basic_challenge) res.set_header("WWW-Authenticate", "Basic realm=\"ax-engine\", charset=\"UTF-8\"");
                    }};
  };
  const Route* route = nullptr;
  bool path_known = false;
  for (const Route& r : routes_) {
    std::smatch m;
    const bool hit = r.pattern ? std::regex_match(req.path, m, r.re) : req.path == r.path;
    if (!hit) continue;
    path_known = true;
    if (r.method != req.method) continue;
    route = &r;
    req.path_params.clear();
    for (size_t i = 1; i < m.size(); ++i) req.path_params.push_back(m[i]);
    break;
  }
  if (!route) {
    // Ollama's clients read {"error": "..."} from anything under /api/ (/api/pull, /api/delete, ...).
    const int shape = req.path.rfind("/api/", 0) == 0 ? kRouteOllama : kRouteOpen;
    if (path_known)
      return answer(ApiError(405, fmt::format("Method {} is not allowed on {}.", req.method, req.path),
                             "invalid_request_error", "", "method_not_allowed"),
                    "other", false, shape);
    return answer(ApiError(404, fmt::format("No route {} {}.", req.method, req.path), "invalid_request_error", "",
                           "not_found"),
                  "other", false, shape);
  }
  const int flags = route->flags;
  std::shared_ptr<InFlightSlot> slot;
  try {
    if (!ctx_.options.api_key.empty() && !(flags & kRouteNoAuth)) {
      // Anthropic's clients send the key as x-api-key; every route takes either header.
      const std::string x_api_key = req.header("x-api-key");
      const std::string key = x_api_key.empty() ? request_key(req.header("authorization")) : x_api_key;
      if (key.empty() || !same_secret(key, ctx_.options.api_key))
        throw ApiError(401, "Invalid or missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'.",
                       "invalid_request_error", "", "invalid_api_key");
    }
    if ((flags & kRouteNeedsModel) && !ctx_.ready.load())
      throw ApiError(503, "The model is still loading; retry shortly.", "server_error", "", "model_loading")
          .with_retry_after(1);
    if ((flags & kRouteGeneration) && ctx_.shutting_down.load())
      throw ApiError(503, "The server is shutting down.", "server_error", "", "shutting_down");
    if ((flags & kRouteGeneration) && ctx_.model_file_changed.load()) {
      std::lock_guard lock(ctx_.model_file_mu);
      throw ApiError(503, ctx_.model_file_problem, "server_error", "", "model_file_changed");
    }
    if (flags & kRouteGeneration) slot = std::make_shared<InFlightSlot>(ctx_);
  } catch (const ApiError& e) {
    return answer(e, route->path, (flags & kRouteBrowser) && e.status() == 401, flags);
  }
  // The slot is held until the handler (and its stream) has ended.
  return Dispatch{(flags & kRouteInline) != 0,
                  [this, route, slot](HttpRequest& req, HttpResponse& res) {
                    RunningRequest running(req.request_id);  // named by a crash report
                    RequestName name(req.request_id, route->path);  // in GET /requests
                    run_route(route->handler, route->flags, req, res);
                    ctx_.metrics.count_request(route->path, res.status);
                  }};
}

void HttpServer::bind() { transport_->bind(); }

int HttpServer::port() const { return transport_->port(); }

void HttpServer::run() { transport_->run(); }

void HttpServer::stop() { transport_->stop(); }

}  // namespace ax::server
