// POST /tokenize, POST /detokenize and POST /apply-template: the model's own tokenizer and chat
// template over HTTP.
#include "server/api_error.h"
#include "server/chat_prompt.h"
#include "server/http_server.h"
#include "server/openai_request.h"
#include "tokenizer/tokenizer.h"

namespace ax::server {

void register_token_routes(HttpServer& http, ServingContext& ctx) {
  // {"prompt" | "content" | "text": string, "add_special": bool (default true)}, or
  // {"messages": [...], "tools": [...]} rendered with the chat template as /v1/chat/completions does
  //   -> {"tokens": [ids], "count": n, "max_model_len": context}
  http.add_route("POST", "/tokenize", kRouteNeedsModel, [&ctx](const HttpRequest& req, HttpResponse& res) {
    nlohmann::json body = parse_json_body(req.body);
    if (body.contains("messages") && !body["messages"].is_null()) {
      ChatRequest cr = parse_chat_request(body);
      const bool tools_on = !cr.tools.empty() && cr.tool_choice.mode != ToolChoice::Mode::None;
      std::vector<int32_t> ids = render_chat_prompt(ctx, cr, nlohmann::ordered_json::parse(req.body), tools_on);
      send_json(res, {{"tokens", ids}, {"count", ids.size()}, {"max_model_len", ctx.max_context}});
      return;
    }
    const nlohmann::json* text = nullptr;
    std::string param;
    for (const char* key : {"prompt", "content", "text"})
      if (body.contains(key) && !body[key].is_null()) {
        text = &body[key];
        param = key;
        break;
      }
    if (!text) bad_param("prompt", "is required (a string to tokenize)");
    if (!text->is_string()) bad_param(param, "must be a string, got {}", text->type_name());
    bool add_special = true;
    if (body.contains("add_special")) {
      if (!body["add_special"].is_boolean()) bad_param("add_special", "must be a boolean");
      add_special = body["add_special"].get<bool>();
    }
    std::vector<int32_t> ids = ctx.text_tokenizer().encode(text->get<std::string>(), add_special, /*parse_special=*/true);
    send_json(res, {{"tokens", ids}, {"count", ids.size()}, {"max_model_len", ctx.max_context}});
  });

  // {"messages": [...], "tools": [...], "chat_template_kwargs": {...}, "add_generation_prompt": bool
  // (default true)} -> {"prompt": text}: the text /v1/chat/completions would tokenize.
  http.add_route("POST", "/apply-template", kRouteNeedsModel, [&ctx](const HttpRequest& req, HttpResponse& res) {
    nlohmann::json body = parse_json_body(req.body);
    bool add_generation_prompt = true;
    if (body.contains("add_generation_prompt") && !body["add_generation_prompt"].is_null()) {
      if (!body["add_generation_prompt"].is_boolean()) bad_param("add_generation_prompt", "must be a boolean");
      add_generation_prompt = body["add_generation_prompt"].get<bool>();
    }
    ChatRequest cr = parse_chat_request(body);
    const bool tools_on = !cr.tools.empty() && cr.tool_choice.mode != ToolChoice::Mode::None;
    const std::string text =
        render_chat_text(ctx, cr, nlohmann::ordered_json::parse(req.body), tools_on, add_generation_prompt);
    send_json(res, {{"prompt", text}});
  });

  // {"tokens": [ids]} -> {"prompt": text, "content": text}
  http.add_route("POST", "/detokenize", kRouteNeedsModel, [&ctx](const HttpRequest& req, HttpResponse& res) {
    nlohmann::json body = parse_json_body(req.body);
    if (!body.contains("tokens") || body["tokens"].is_null()) bad_param("tokens", "is required (an array of token ids)");
    const nlohmann::json& t = body["tokens"];
    if (!t.is_array()) bad_param("tokens", "must be an array of token ids, got {}", t.type_name());
    std::vector<int32_t> ids;
    for (size_t i = 0; i < t.size(); ++i) {
      if (!t[i].is_number_integer()) bad_param(fmt::format("tokens[{}]", i), "must be an integer token id");
      int64_t id = t[i].get<int64_t>();
      if (id < 0 || id >= ctx.vocab_size)
        bad_param(fmt::format("tokens[{}]", i), "is token id {}, outside the vocabulary [0, {})", id, ctx.vocab_size);
      ids.push_back(static_cast<int32_t>(id));
    }
    std::string text = ctx.text_tokenizer().decode(ids, /*skip_special=*/false);
    send_json(res, {{"prompt", text}, {"content", text}});
  });
}

}  // namespace ax::server
