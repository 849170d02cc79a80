// The web console: GET / (the page) and GET /console/<file> (its script and style), served from
// the files compiled into the binary (console_assets.h). Behind --api-key like every route; a
// browser without the key gets a Basic challenge and prompts its user for it. Off with
// --no-console (the routes are then not registered: 404).
#include <string>

#include "server/api_error.h"
#include "server/console_assets.h"
#include "server/http_server.h"

namespace ax::server {
namespace {

const ConsoleAsset* find_asset(std::string_view path) {
  for (const ConsoleAsset& a : console_assets())
    if (a.path == path) return &a;
  return nullptr;
}

void send_asset(const ConsoleAsset& a, HttpResponse& res) {
  res.set_content(std::string(a.bytes), std::string(console_content_type(a.path)));
  // The files change only with the binary; no-cache makes a browser revalidate after an upgrade.
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Content-Type-Options", "nosniff");
  // Only this server's own files run: no inline script, nothing from elsewhere.
  res.set_header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:");
}

}  // namespace

std::string_view console_content_type(std::string_view path) {
  auto ends_with = [&](std::string_view ext) {
    return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext;
  };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

void register_console_routes(HttpServer& http, ServingContext& ctx) {
  if (!ctx.options.console) return;
  http.add_route("GET", "/", kRouteInline | kRouteBrowser, [](const HttpRequest&, HttpResponse& res) {
    send_asset(*find_asset("index.html"), res);
  });
  http.add_route("GET", R"(/console/([A-Za-z0-9_.-]+))", kRouteInline | kRouteBrowser,
                 [](const HttpRequest& req, HttpResponse& res) {
                   const ConsoleAsset* a = find_asset(req.path_params[0]);
                   if (!a)
                     throw ApiError(404, "No console file " + req.path_params[0] + ".", "invalid_request_error", "",
                                    "not_found");
                   send_asset(*a, res);
                 });
}

}  // namespace ax::server
