// GET /api/tags, POST /api/show, GET /api/ps, GET /api/version: what Ollama's clients ask about
// models. One model is served, under its id and each --alias; all of them are "installed" and
// "running" (the model is loaded for the server's lifetime).
#include <cctype>
#include <filesystem>
#include <map>

#include "backend/backend.h"
#include "engine/engine.h"
#include "model/model.h"
#include "model/model_source.h"
#include "server/api_error.h"
#include "server/http_server.h"
#include "server/json_fields.h"
#include "server/ollama_request.h"
#include "server/ollama_response.h"
#include "server/openai_request.h"
#include "tokenizer/tokenizer.h"

namespace ax::server {
namespace {

using nlohmann::json;

// The Ollama release whose API these routes follow. Clients read /api/version to decide what a
// server can do (tools, structured outputs and thinking need recent releases).
constexpr const char* kOllamaApiVersion = "0.12.0";

// The model's weights: parameters, bytes, and the element type holding most of the bytes.
struct WeightSummary {
  int64_t parameters = 0;
  int64_t bytes = 0;
  std::string main_dtype;
};

WeightSummary weight_summary(const ModelSource& source) {
  WeightSummary w;
  std::map<std::string, int64_t> bytes_by_dtype;
  for (const auto& [name, t] : source.tensors()) {
    w.parameters += t.numel();
    w.bytes += static_cast<int64_t>(t.nbytes);
    bytes_by_dtype[std::string(dtype_name(t.dtype))] += static_cast<int64_t>(t.nbytes);
  }
  int64_t most = -1;
  for (const auto& [dtype, bytes] : bytes_by_dtype)
    if (bytes > most) most = bytes, w.main_dtype = dtype;
  for (char& c : w.main_dtype) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return w;
}

// "15.2M", "7.6B", as Ollama writes parameter counts.
std::string parameter_size(int64_t n) {
  if (n >= 1'000'000'000) return fmt::format("{:.1f}B", n / 1e9);
  if (n >= 1'000'000) return fmt::format("{:.1f}M", n / 1e6);
  return fmt::format("{:.1f}K", n / 1e3);
}

std::string modified_at(const ModelSource& source) {
  std::error_code ec;
  const auto t = std::filesystem::last_write_time(source.path(), ec);
  if (ec) return ollama_time_now();
  return ollama_time(std::chrono::time_point_cast<std::chrono::system_clock::duration>(std::chrono::file_clock::to_sys(t)));
}

json details_json(const ServingContext& ctx, const WeightSummary& w) {
  const std::string& arch = ctx.model->config().arch_name;
  return {{"parent_model", ""}, {"format", ctx.source->format()}, {"family", arch}, {"families", {arch}},
          {"parameter_size", parameter_size(w.parameters)}, {"quantization_level", w.main_dtype}};
}

// The served names, the id first.
std::vector<std::string> served_names(const ServingContext& ctx) {
  std::vector<std::string> names = {ctx.model_id};
  names.insert(names.end(), ctx.options.model_aliases.begin(), ctx.options.model_aliases.end());
  return names;
}

// Which requests the model serves: completion (text in, text out), tools (the server parses
// tool calls for any chat template), thinking (its template thinks).
json capabilities(const ServingContext& ctx) {
  json caps = json::array();
  if (!ctx.tokenizer) return caps;
  caps.push_back("completion");
  if (ctx.chat_template) caps.push_back("tools");
  if (ctx.reasoning_format != ReasoningFormat::None) caps.push_back("thinking");
  return caps;
}

json model_info(const ServingContext& ctx, const WeightSummary& w) {
  const ModelConfig& c = ctx.model->config();
  const std::string& a = c.arch_name;
  json info = {{"general.architecture", a}, {"general.parameter_count", w.parameters},
               {a + ".context_length", c.max_position_embeddings}, {a + ".embedding_length", c.hidden_size},
               {a + ".block_count", c.num_layers}, {a + ".feed_forward_length", c.intermediate_size},
               {a + ".attention.head_count", c.num_heads}, {a + ".attention.head_count_kv", c.num_kv_heads},
               {a + ".attention.key_length", c.head_dim}, {a + ".vocab_size", c.vocab_size}};
  if (c.moe.num_experts > 0) {
    info[a + ".expert_count"] = c.moe.num_experts;
    info[a + ".expert_used_count"] = c.moe.top_k;
  }
  return info;
}

void handle_show(ServingContext& ctx, const HttpRequest& req, HttpResponse& res) {
  const json body = parse_json_body(req.body);
  const json* name = field(body, "model");
  if (!name) name = field(body, "name");  // the older field
  if (!name) throw ApiError(400, "model is required", "invalid_request_error", "model", "invalid_value");
  check_ollama_model(ctx, get_string(*name, "model"));
  const WeightSummary w = weight_summary(*ctx.source);
  const std::string tmpl = ctx.tokenizer ? ctx.tokenizer->chat_template() : std::string();
  send_json(res, {{"license", ""},
                  {"modelfile", fmt::format("# Served by ax-engine; not an Ollama Modelfile.\nFROM {}\n", ctx.source->path())},
                  {"parameters", ""},
                  {"template", tmpl},  // Jinja, as the model's files carry it (Ollama's are Go templates)
                  {"details", details_json(ctx, w)},
                  {"model_info", model_info(ctx, w)},
                  {"capabilities", capabilities(ctx)},
                  {"modified_at", modified_at(*ctx.source)}});
}

}  // namespace

void register_ollama_model_routes(HttpServer& http, ServingContext& ctx) {
  http.add_route("GET", "/api/version", kRouteInline | kRouteOllama, [](const HttpRequest&, HttpResponse& res) {
    send_json(res, {{"version", kOllamaApiVersion}});
  });

  http.add_route("GET", "/api/tags", kRouteNeedsModel | kRouteInline | kRouteOllama, [&ctx](const HttpRequest&, HttpResponse& res) {
    const WeightSummary w = weight_summary(*ctx.source);
    json models = json::array();
    for (const std::string& name : served_names(ctx))
      models.push_back({{"name", name}, {"model", name}, {"modified_at", modified_at(*ctx.source)}, {"size", w.bytes},
                        {"digest", ""}, {"details", details_json(ctx, w)}});
    send_json(res, {{"models", models}});
  });

  http.add_route("POST", "/api/show", kRouteNeedsModel | kRouteInline | kRouteOllama,
                 [&ctx](const HttpRequest& req, HttpResponse& res) { handle_show(ctx, req, res); });

  // Loaded models: this one, for as long as the server runs (expires_at far in the future, as
  // Ollama writes a model kept with keep_alive -1). size: the weights and the KV pool's budget.
  http.add_route("GET", "/api/ps", kRouteNeedsModel | kRouteInline | kRouteOllama, [&ctx](const HttpRequest&, HttpResponse& res) {
    const WeightSummary w = weight_summary(*ctx.source);
    const int64_t size = w.bytes + ctx.engine->config().kv_memory_bytes;
    const bool on_device = ctx.backend->name() != "cpu";
    json models = json::array();
    for (const std::string& name : served_names(ctx))
      models.push_back({{"name", name}, {"model", name}, {"size", size}, {"digest", ""}, {"details", details_json(ctx, w)},
                        {"expires_at", "2318-11-11T00:00:00Z"}, {"size_vram", on_device ? size : 0},
                        {"context_length", ctx.max_context}});
    send_json(res, {{"models", models}});
  });
}

}  // namespace ax::server
