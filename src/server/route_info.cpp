// GET /health, GET /v1/models, GET /metrics, GET /info (the model and how it is served), GET
// /requests (the generation requests running now).
#include "backend/backend.h"
#include "engine/engine.h"
#include "model/model.h"
#include "model/model_source.h"
#include "server/api_error.h"
#include "server/http_server.h"
#include "server/openai_response.h"
#include "server/serving.h"
#include "tokenizer/tokenizer.h"

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

  // {"model": {id, path, architecture, sizes...}, "engine": {backend, kv_cache, ...}, "server":
  // {...}}: what the console shows about the served model.
  http.add_route("GET", "/info", kRouteNeedsModel | kRouteInline, [&ctx](const HttpRequest&, HttpResponse& res) {
    const ModelConfig& c = ctx.model->config();
    nlohmann::json model = {
        {"id", ctx.model_id}, {"path", ctx.source->path()}, {"architecture", c.arch_name},
        {"vocab_size", c.vocab_size}, {"hidden_size", c.hidden_size}, {"intermediate_size", c.intermediate_size},
        {"num_layers", c.num_layers}, {"num_heads", c.num_heads}, {"num_kv_heads", c.num_kv_heads},
        {"head_dim", c.head_dim}, {"max_position_embeddings", c.max_position_embeddings},
        {"tokenizer", ctx.tokenizer ? ctx.tokenizer->kind() : std::string("none")}, {"chat_template", ctx.chat_template != nullptr},
        {"embedding_pooling", ctx.embedding_pooling == EmbeddingPooling::Mean ? "mean" : "last"}};
    if (c.moe.num_experts > 0) model["experts"] = {{"count", c.moe.num_experts}, {"per_token", c.moe.top_k}};
    const ServerOptions& o = ctx.options;
    nlohmann::json engine = {
        {"backend", ctx.backend->description()}, {"kv_cache", ctx.engine->kv_explanation()},
        {"max_context", ctx.max_context}, {"max_num_seqs", o.max_num_seqs},
        {"speculation", o.default_speculation ? "ngram" : "off"}, {"max_draft", o.default_max_draft}};
    nlohmann::json server = {{"max_concurrent", o.max_concurrent}, {"aliases", o.model_aliases},
                             {"started", ctx.created}};
    send_json(res, {{"model", model}, {"engine", engine}, {"server", server}});
  });

  // {"data": [{"id", "route", "age_s", "ttft_s" | null, "choices", "prompt_tokens",
  // "completion_tokens"}]}, oldest first.
  http.add_route("GET", "/requests", kRouteInline, [&ctx](const HttpRequest&, HttpResponse& res) {
    const auto now = std::chrono::steady_clock::now();
    const auto seconds = [](auto d) { return std::chrono::duration<double>(d).count(); };
    nlohmann::json data = nlohmann::json::array();
    for (const LiveRequests::Entry& e : ctx.live_requests.snapshot()) {
      const bool generating = e.completion_tokens > 0;
      data.push_back({{"id", e.id}, {"route", e.route}, {"age_s", seconds(now - e.started)},
                      {"ttft_s", generating ? nlohmann::json(seconds(e.first_token - e.started)) : nlohmann::json()},
                      {"choices", e.choices}, {"prompt_tokens", e.prompt_tokens},
                      {"completion_tokens", e.completion_tokens}});
    }
    send_json(res, {{"object", "list"}, {"data", data}});
  });
}

}  // namespace ax::server
