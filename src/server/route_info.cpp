// GET /health, GET /v1/models, GET /metrics.
#include "server/api_error.h"
#include "server/http_server.h"
#include "server/httplib_config.h"
#include "server/openai_response.h"
#include "server/serving.h"

namespace ax::server {

void register_info_routes(HttpServer& http, ServingContext& ctx) {
  http.add_route("GET", "/health", kRouteNoAuth, [&ctx](const httplib::Request&, httplib::Response& res) {
    if (ctx.shutting_down.load()) send_json(res, {{"status", "shutting_down"}}, 503);
    else if (!ctx.ready.load()) send_json(res, {{"status", "loading"}}, 503);
    else send_json(res, {{"status", "ok"}, {"model", ctx.model_id}});
  });

  auto model_card = [&ctx] {
    return nlohmann::json{{"id", ctx.model_id}, {"object", "model"}, {"created", ctx.created}, {"owned_by", "ax-engine"},
                          {"max_model_len", ctx.max_context}};
  };
  http.add_route("GET", "/v1/models", kRouteOpen, [model_card](const httplib::Request&, httplib::Response& res) {
    send_json(res, {{"object", "list"}, {"data", {model_card()}}});
  });
  http.add_route("GET", R"(/v1/models/(.+))", kRouteOpen, [&ctx, model_card](const httplib::Request& req, httplib::Response& res) {
    if (req.matches[1] != ctx.model_id) {
      send_json(res, ApiError(404, "The model '" + std::string(req.matches[1]) + "' does not exist; this server serves '" +
                                       ctx.model_id + "'.", "invalid_request_error", "model", "model_not_found")
                         .to_json(), 404);
      return;
    }
    send_json(res, model_card());
  });

  http.add_route("GET", "/metrics", kRouteNoAuth, [&ctx](const httplib::Request&, httplib::Response& res) {
    res.set_content(ctx.metrics.render(engine_metrics(ctx)), "text/plain; version=0.0.4");
  });
}

}  // namespace ax::server
