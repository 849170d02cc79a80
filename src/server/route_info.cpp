// GET /health, GET /v1/models, GET /metrics.
#include "server/api_error.h"
#include "server/http_server.h"
#include "server/openai_response.h"
#include "server/serving.h"

namespace ax::server {

void register_info_routes(HttpServer& http, ServingContext& ctx) {
  http.add_route("GET", "/health", kRouteNoAuth | kRouteInline, [&ctx](const HttpRequest&, HttpResponse& res) {
    if (ctx.shutting_down.load()) send_json(res, {{"status", "shutting_down"}}, 503);
    else if (!ctx.ready.load()) send_json(res, {{"status", "loading"}}, 503);
    else if (ctx.model_file_changed.load()) {
      std::lock_guard lock(ctx.model_file_mu);
      send_json(res, {{"status", "model_file_changed"}, {"detail", ctx.model_file_problem}}, 503);
    }
    else send_json(res, {{"status", "ok"}, {"model", ctx.model_id}});
  });

  // The model under its id and each alias.
  auto model_card = [&ctx](const std::string& id) {
    return nlohmann::json{{"id", id}, {"object", "model"}, {"created", ctx.created}, {"owned_by", "ax-engine"},
                          {"max_model_len", ctx.max_context}};
  };
  http.add_route("GET", "/v1/models", kRouteInline, [&ctx, model_card](const HttpRequest&, HttpResponse& res) {
    nlohmann::json data = nlohmann::json::array({model_card(ctx.model_id)});
    for (const auto& alias : ctx.options.model_aliases) data.push_back(model_card(alias));
    send_json(res, {{"object", "list"}, {"data", data}});
  });
  http.add_route("GET", R"(/v1/models/(.+))", kRouteInline, [&ctx, model_card](const HttpRequest& req, HttpResponse& res) {
    const std::string id = req.path_params[0];
    check_model_name(ctx, id);
    send_json(res, model_card(id));
  });

  http.add_route("GET", "/metrics", kRouteNoAuth | kRouteInline, [&ctx](const HttpRequest&, HttpResponse& res) {
    res.set_content(ctx.metrics.render(engine_metrics(ctx)), "text/plain; version=0.0.4");
  });
}

}  // namespace ax::server
