// POST /v1/embeddings: one L2-normalised vector per input (model/embedding.h: the model's final
// hidden states pooled, over a private KV cache). Runs on the HTTP thread; its passes
// take turns with the engine's steps (Model::pass_mutex).
#include "model/embedding.h"
#include "model/model.h"
#include "server/api_error.h"
#include "server/http_server.h"
#include "server/openai_request.h"
#include "server/openai_response.h"
#include "server/serving.h"
#include "tokenizer/tokenizer.h"
#include "util/base64.h"

namespace ax::server {
namespace {

using nlohmann::json;

constexpr size_t kMaxInputs = 256;

// The inputs as token-id lists: a string, a list of strings, a list of ids, a list of id lists.
std::vector<std::vector<int32_t>> parse_inputs(ServingContext& ctx, const json& v) {
  std::vector<std::vector<int32_t>> out;
  auto add_text = [&](const json& s, const std::string& param) {
    std::vector<int32_t> ids = ctx.text_tokenizer().encode(s.get<std::string>(), true, true);
    if (ids.empty()) bad_param(param, "encodes to no tokens; inputs must not be empty");
    out.push_back(std::move(ids));
  };
  auto add_ids = [&](const json& a, const std::string& param) {
    std::vector<int32_t> ids;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_number_integer()) bad_param(fmt::format("{}[{}]", param, i), "must be a token id");
      ids.push_back(static_cast<int32_t>(a[i].get<int64_t>()));
    }
    if (ids.empty()) bad_param(param, "must not be empty");
    check_token_ids(ids, ctx.vocab_size, param);
    out.push_back(std::move(ids));
  };
  if (v.is_string()) {
    add_text(v, "input");
  } else if (v.is_array() && !v.empty() && v[0].is_number()) {
    add_ids(v, "input");
  } else if (v.is_array()) {
    if (v.empty()) bad_param("input", "must not be empty");
    if (v.size() > kMaxInputs) bad_param("input", "holds {} inputs; at most {} per request", v.size(), kMaxInputs);
    for (size_t i = 0; i < v.size(); ++i) {
      std::string p = fmt::format("input[{}]", i);
      if (v[i].is_string()) add_text(v[i], p);
      else if (v[i].is_array()) add_ids(v[i], p);
      else bad_param(p, "must be a string or an array of token ids, got {}", v[i].type_name());
    }
  } else {
    bad_param("input", "must be a string, an array of strings, or token ids; got {}", v.type_name());
  }
  return out;
}

void handle_embeddings(ServingContext& ctx, const HttpRequest& req, HttpResponse& res) {
  json body = parse_json_body(req.body);
  if (body.contains("model") && !body["model"].is_null()) {
    if (!body["model"].is_string()) bad_param("model", "must be a string");
    check_model_name(ctx, body["model"].get<std::string>());
  }
  if (!body.contains("input") || body["input"].is_null()) bad_param("input", "is required");
  bool as_base64 = false;
  if (body.contains("encoding_format") && !body["encoding_format"].is_null()) {
    if (!body["encoding_format"].is_string()) bad_param("encoding_format", "must be 'float' or 'base64'");
    std::string f = body["encoding_format"];
    if (f == "base64") as_base64 = true;
    else if (f != "float") bad_param("encoding_format", "must be 'float' or 'base64', got '{}'", f);
  }
  const int64_t H = ctx.model->config().hidden_size;
  if (body.contains("dimensions") && !body["dimensions"].is_null()) {
    if (!body["dimensions"].is_number_integer() || body["dimensions"].get<int64_t>() != H)
      bad_param("dimensions", "must be {} (this model's embedding size) if given", H);
  }
  std::vector<std::vector<int32_t>> inputs = parse_inputs(ctx, body["input"]);
  for (size_t i = 0; i < inputs.size(); ++i)
    if (static_cast<int64_t>(inputs[i].size()) > ctx.max_context)
      throw ApiError(400, fmt::format("input {} has {} tokens; this model's maximum context length is {}.", i,
                                      inputs[i].size(), ctx.max_context),
                     "invalid_request_error", "input", "context_length_exceeded");
  json data = json::array();
  int64_t tokens = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<float> v = embed_tokens(*ctx.model, inputs[i], ctx.embedding_pooling);
    tokens += static_cast<int64_t>(inputs[i].size());
    json e = {{"object", "embedding"}, {"index", i}};
    if (as_base64) e["embedding"] = base64_encode(std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
    else e["embedding"] = v;
    data.push_back(std::move(e));
  }
  ctx.metrics.add_prompt_tokens(tokens);
  send_json(res, {{"object", "list"}, {"data", data}, {"model", ctx.model_id},
                  {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}});
}

}  // namespace

void register_embedding_routes(HttpServer& http, ServingContext& ctx) {
  http.add_route("POST", "/v1/embeddings", kRouteNeedsModel | kRouteGeneration,
                 [&ctx](const HttpRequest& req, HttpResponse& res) { handle_embeddings(ctx, req, res); });
}

}  // namespace ax::server
