// POST /api/chat, /api/generate, /api/embed and /api/embeddings: Ollama's generation API,
// translated onto the chat pipeline (ollama_request.h in, chat_generation.h through the engine,
// ollama_response.h out). Streams are NDJSON, one object per line; errors, streamed or not, are
// {"error": "..."} (kRouteOllama).
#include <algorithm>
#include <chrono>

#include "model/embedding.h"
#include "model/model.h"
#include "server/api_error.h"
#include "server/chat_generation.h"
#include "server/http_server.h"
#include "server/json_fields.h"
#include "server/ollama_request.h"
#include "server/ollama_response.h"
#include "server/reasoning_parser.h"
#include "server/serving.h"
#include "server/sse_stream.h"
#include "server/token_mask.h"
#include "tokenizer/tokenizer.h"

namespace ax::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

enum class Shape { Chat, Generate };

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The reply to a request with nothing to generate from: Ollama answers it by loading the model,
// which is loaded already.
json load_reply(Shape shape, const std::string& model) {
  json j = {{"model", model}, {"created_at", ollama_time_now()}};
  if (shape == Shape::Chat) j["message"] = {{"role", "assistant"}, {"content", ""}};
  else j["response"] = "";
  j["done"] = true;
  j["done_reason"] = "load";
  return j;
}

// /api/generate's prompt as written (raw, or a model without a chat template): tokenized as
// /v1/completions does, with format's grammar; the thought is split as on chat.
ChatJob raw_prompt_job(ServingContext& ctx, const OllamaRequest& r) {
  std::shared_ptr<const CompiledSchema> schema = response_format_grammar(r.chat.gen.response_format);
  if (schema && ctx.eos_ids.empty()) bad_param("format", "needs an end-of-sequence token, and this model has none");
  // A continued exchange (context) already begins with the model's start token.
  const std::vector<int32_t> prompt = ctx.text_tokenizer().encode(r.prompt, /*add_special=*/r.context.empty(), true);
  ChatJob job;
  job.prompt_tokens = static_cast<int64_t>(prompt.size());
  job.reasoning = ctx.reasoning_format;
  if (job.reasoning != ReasoningFormat::None && !schema)
    job.reasoning_starts_inside = prompt_opens_reasoning(job.reasoning, ctx.text_tokenizer().decode(prompt));
  job.requests = make_choice_requests(ctx, prompt, r.chat.gen, "prompt", schema);
  return job;
}

// Ollama's limits, applied once the prompt is known: context (an earlier exchange's tokens) goes
// first; num_ctx bounds prompt + output, num_predict the output. Ollama cuts a prompt that does not
// fit; here it is a 400, as on the other routes.
void bound_requests(ServingContext& ctx, ChatJob& job, const OllamaRequest& r) {
  const int64_t window = r.num_ctx ? std::min(*r.num_ctx, ctx.max_context) : ctx.max_context;
  for (Request& req : job.requests) {
    if (!r.context.empty()) req.prompt.insert(req.prompt.begin(), r.context.begin(), r.context.end());
    const int64_t n = static_cast<int64_t>(req.prompt.size());
    if (n >= window)
      throw ApiError(400,
                     fmt::format("The prompt has {} tokens; the context window{} holds {}.", n,
                                 r.num_ctx ? " (options.num_ctx)" : "", window),
                     "invalid_request_error", r.num_ctx ? "options.num_ctx" : "prompt", "context_length_exceeded");
    req.stop.max_tokens = std::min(req.stop.max_tokens, window - n);
    if (r.num_predict) req.stop.max_tokens = std::min(req.stop.max_tokens, *r.num_predict);
  }
  job.prompt_tokens += static_cast<int64_t>(r.context.size());
}

// Ollama refuses think for a model that cannot think, rather than ignoring it.
void check_think(const ServingContext& ctx, const OllamaRequest& r) {
  if (r.thinking.enabled.value_or(false) && ctx.reasoning_format == ReasoningFormat::None)
    throw ApiError(400, fmt::format("\"{}\" does not support thinking", r.model), "invalid_request_error", "think",
                   "invalid_value");
}

// One reply as it forms.
struct Reply {
  Reply(const ServingContext& ctx, const ChatJob& job) : output(ctx, job) {}
  ChatOutput output;
  ChatDelta all;                  // everything so far (the blocking reply)
  std::vector<int32_t> token_ids;  // prompt and output, for generate's context
};

// A reply object holding delta (not done yet).
json reply_object(Shape shape, const std::string& model, const ChatDelta& d) {
  json j = {{"model", model}, {"created_at", ollama_time_now()}};
  if (shape == Shape::Chat) {
    json message = {{"role", "assistant"}, {"content", d.content}};
    if (!d.reasoning.empty()) message["thinking"] = d.reasoning;
    if (!d.calls.empty()) message["tool_calls"] = ollama_tool_calls_json(d.calls);
    j["message"] = std::move(message);
  } else {
    j["response"] = d.content;
    if (!d.reasoning.empty()) j["thinking"] = d.reasoning;
  }
  j["done"] = false;
  return j;
}

void run_reply(ServingContext& ctx, const HttpRequest& req, HttpResponse& res, Shape shape, const OllamaRequest& r,
               ChatJob job, Clock::time_point t0) {
  bound_requests(ctx, job, r);
  auto reply = std::make_shared<Reply>(ctx, job);
  reply->token_ids = job.requests.at(0).prompt;
  auto group = std::make_unique<ChoiceGroup>(ctx, std::move(job.requests));
  const std::string model = r.model;
  // Returns the delta of an event and, on the Finish event, the last object.
  auto push = [reply, shape, model, t0, &ctx](const Event& e, json* last) {
    for (const TokenInfo& t : e.tokens)
      if (std::find(ctx.eos_ids.begin(), ctx.eos_ids.end(), t.id) == ctx.eos_ids.end()) reply->token_ids.push_back(t.id);
    ChatDelta d = reply->output.push(e);
    reply->all.content += d.content;
    reply->all.reasoning += d.reasoning;
    reply->all.calls.insert(reply->all.calls.end(), d.calls.begin(), d.calls.end());
    if (e.kind == EventKind::Finish && last) {
      *last = reply_object(shape, model, ChatDelta{});
      add_ollama_done(*last, e.reason == FinishReason::Length ? "length" : "stop", e.metrics, seconds_since(t0));
      if (shape == Shape::Generate) (*last)["context"] = reply->token_ids;
    }
    return d;
  };

  if (!r.stream) {
    json last;
    run_blocking(req, ctx, *group, [&](size_t, const Event& e) { push(e, &last); });
    json whole = reply_object(shape, model, reply->all);
    for (const char* key : {"done", "done_reason", "total_duration", "load_duration", "prompt_eval_count",
                            "prompt_eval_duration", "eval_count", "eval_duration", "context"})
      if (last.contains(key)) whole[key] = last[key];
    send_json(res, whole);
    return;
  }
  SseJob stream;
  stream.group = std::move(group);
  stream.content_type = "application/x-ndjson";
  stream.keep_alive.clear();  // NDJSON has no comments: a quiet stream stays quiet, as Ollama's does
  stream.done_marker = false;
  stream.on_event = [push, shape, model](size_t, const Event& e) {
    json last;
    const ChatDelta d = push(e, &last);
    std::string out;
    if (!d.empty()) out += ndjson_line(reply_object(shape, model, d));
    if (!last.is_null()) out += ndjson_line(last);
    return out;
  };
  stream.on_error = [](const ApiError& e) { return ndjson_line(e.to_ollama_json()); };
  stream_sse(req, res, ctx, stream);
}

void handle_chat(ServingContext& ctx, const HttpRequest& req, HttpResponse& res) {
  const auto t0 = Clock::now();
  const json body = parse_json_body(req.body);  // first: a body that is not JSON is a 400 here
  const OllamaRequest r = parse_ollama_chat(body, ordered_json::parse(req.body));
  check_ollama_model(ctx, r.model);
  if (r.load_only) return send_json(res, load_reply(Shape::Chat, r.model));
  check_think(ctx, r);
  run_reply(ctx, req, res, Shape::Chat, r, prepare_chat(ctx, r.chat, r.chat_body, r.thinking), t0);
}

void handle_generate(ServingContext& ctx, const HttpRequest& req, HttpResponse& res) {
  const auto t0 = Clock::now();
  const json body = parse_json_body(req.body);
  OllamaRequest r = parse_ollama_generate(body, ordered_json::parse(req.body));
  check_ollama_model(ctx, r.model);
  if (r.load_only) return send_json(res, load_reply(Shape::Generate, r.model));
  check_think(ctx, r);
  check_token_ids(r.context, ctx.vocab_size, "context");
  // A model without a chat template gets the prompt as written, as Ollama's default template
  // ({{ .Prompt }}) would give it.
  const bool templated = !r.raw && ctx.chat_template;
  ChatJob job = templated ? prepare_chat(ctx, r.chat, r.chat_body, r.thinking) : raw_prompt_job(ctx, r);
  run_reply(ctx, req, res, Shape::Generate, r, std::move(job), t0);
}

// Token ids of one input to embed; over the context they are cut to it (Ollama's truncate, the
// default) or refused.
std::vector<int32_t> embedding_input(ServingContext& ctx, const json& v, const std::string& param, bool truncate) {
  std::vector<int32_t> ids = ctx.text_tokenizer().encode(get_string(v, param), true, true);
  if (ids.empty()) bad_param(param, "encodes to no tokens; inputs must not be empty");
  if (static_cast<int64_t>(ids.size()) > ctx.max_context) {
    if (!truncate)
      throw ApiError(400, fmt::format("{} has {} tokens, more than the model's context length ({}); send truncate: true "
                                      "to cut it.", param, ids.size(), ctx.max_context),
                     "invalid_request_error", param, "context_length_exceeded");
    ids.resize(static_cast<size_t>(ctx.max_context));
  }
  return ids;
}

void check_dimensions(ServingContext& ctx, const json& body) {
  const int64_t H = ctx.model->config().hidden_size;
  if (const json* v = field(body, "dimensions"); v && get_int(*v, "dimensions", 1, int64_t{1} << 30) != H)
    bad_param("dimensions", "must be {} (this model's embedding size) if given", H);
}

void handle_embed(ServingContext& ctx, const HttpRequest& req, HttpResponse& res) {
  const auto t0 = Clock::now();
  const json body = parse_json_body(req.body);
  const json* model = field(body, "model");
  if (!model) throw ApiError(400, "model is required", "invalid_request_error", "model", "invalid_value");
  check_ollama_model(ctx, get_string(*model, "model"));
  if (const json* v = field(body, "keep_alive")) parse_keep_alive(*v);
  check_dimensions(ctx, body);
  bool truncate = true;
  if (const json* v = field(body, "truncate")) truncate = get_bool(*v, "truncate");
  std::vector<std::vector<int32_t>> inputs;
  if (const json* v = field(body, "input")) {
    if (v->is_array()) {
      for (size_t i = 0; i < v->size(); ++i)
        inputs.push_back(embedding_input(ctx, (*v)[i], fmt::format("input[{}]", i), truncate));
    } else {
      inputs.push_back(embedding_input(ctx, *v, "input", truncate));
    }
  }
  json embeddings = json::array();
  int64_t tokens = 0;
  for (const std::vector<int32_t>& ids : inputs) {
    embeddings.push_back(embed_tokens(*ctx.model, ids, ctx.embedding_pooling));
    tokens += static_cast<int64_t>(ids.size());
  }
  ctx.metrics.add_prompt_tokens(tokens);
  send_json(res, {{"model", model->get<std::string>()}, {"embeddings", embeddings},
                  {"total_duration", static_cast<int64_t>(seconds_since(t0) * 1e9)}, {"load_duration", 0},
                  {"prompt_eval_count", tokens}});
}

// The older single-prompt route: {"model", "prompt"} -> {"embedding"}.
void handle_embeddings(ServingContext& ctx, const HttpRequest& req, HttpResponse& res) {
  const json body = parse_json_body(req.body);
  const json* model = field(body, "model");
  if (!model) throw ApiError(400, "model is required", "invalid_request_error", "model", "invalid_value");
  check_ollama_model(ctx, get_string(*model, "model"));
  if (const json* v = field(body, "keep_alive")) parse_keep_alive(*v);
  const json* prompt = field(body, "prompt");
  if (!prompt || get_string(*prompt, "prompt").empty()) return send_json(res, {{"embedding", json::array()}});
  const std::vector<int32_t> ids = embedding_input(ctx, *prompt, "prompt", /*truncate=*/true);
  ctx.metrics.add_prompt_tokens(static_cast<int64_t>(ids.size()));
  send_json(res, {{"embedding", embed_tokens(*ctx.model, ids, ctx.embedding_pooling)}});
}

}  // namespace

void register_ollama_routes(HttpServer& http, ServingContext& ctx) {
  constexpr int kFlags = kRouteNeedsModel | kRouteGeneration | kRouteOllama;
  http.add_route("POST", "/api/chat", kFlags, [&ctx](const HttpRequest& req, HttpResponse& res) { handle_chat(ctx, req, res); });
  http.add_route("POST", "/api/generate", kFlags,
                 [&ctx](const HttpRequest& req, HttpResponse& res) { handle_generate(ctx, req, res); });
  http.add_route("POST", "/api/embed", kFlags, [&ctx](const HttpRequest& req, HttpResponse& res) { handle_embed(ctx, req, res); });
  http.add_route("POST", "/api/embeddings", kFlags,
                 [&ctx](const HttpRequest& req, HttpResponse& res) { handle_embeddings(ctx, req, res); });
}

}  // namespace ax::server
