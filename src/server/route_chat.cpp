// POST /v1/chat/completions: messages rendered with the model's own chat template, generated,
// and returned as a message (blocking) or as chat.completion.chunk deltas (streaming). With
// tools, <tool_call> blocks in the output become tool_calls; a thinking model's thought becomes
// reasoning_content (chat_generation.h).
#include "server/api_error.h"
#include "server/chat_generation.h"
#include "server/http_server.h"
#include "server/json_fields.h"
#include "server/openai_request.h"
#include "server/openai_response.h"
#include "server/serving.h"
#include "server/sse_stream.h"
#include "server/tool_call_parser.h"

namespace ax::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// Streamed deltas carry each call's index; a whole message's tool_calls do not.
json tool_calls_json(const std::vector<ParsedToolCall>& calls, size_t first_index, bool with_index) {
  json a = json::array();
  for (size_t k = 0; k < calls.size(); ++k) {
    json call = {{"id", calls[k].id}, {"type", "function"},
                 {"function", {{"name", calls[k].name}, {"arguments", calls[k].arguments}}}};
    if (with_index) call["index"] = first_index + k;
    a.push_back(std::move(call));
  }
  return a;
}

struct ChatChoice {
  std::string content;
  std::string reasoning;
  std::vector<ParsedToolCall> calls;
  std::vector<TokenLogprob> logprobs;
  std::string finish_reason;
  RequestMetrics metrics;
  std::unique_ptr<ChatOutput> output;

  std::string finish_name(FinishReason r) const {
    return !calls.empty() && r == FinishReason::Stop ? "tool_calls" : finish_reason_name(r);
  }
};

// Usage with the completion tokens the choices spent thinking.
Usage chat_usage(const std::vector<ChatChoice>& choices) {
  Usage u = total_usage(choices, choices.size());
  for (const ChatChoice& c : choices) u.reasoning_tokens += c.output->reasoning_tokens();
  return u;
}

// OpenAI's reasoning_effort reaches the template; vLLM's thinking_token_budget caps the thought
// (0 closes it at once), enforced by the engine whatever the template makes of it.
ThinkingOptions chat_thinking(const ordered_json& raw) {
  ThinkingOptions t;
  if (raw.contains("reasoning_effort") && !raw["reasoning_effort"].is_null()) {
    if (!raw["reasoning_effort"].is_string()) bad_param("reasoning_effort", "must be a string");
    t = thinking_from_effort(raw["reasoning_effort"].get<std::string>(), "reasoning_effort");
  }
  if (raw.contains("thinking_token_budget") && !raw["thinking_token_budget"].is_null()) {
    if (t.enabled == false) bad_param("thinking_token_budget", "cannot be set with reasoning_effort \"none\"");
    t.budget_tokens = get_int(nlohmann::json(raw["thinking_token_budget"]), "thinking_token_budget", 0, int64_t{1} << 30);
    t.budget_param = "thinking_token_budget";
  }
  return t;
}

void handle_chat(ServingContext& ctx, const HttpRequest& req, HttpResponse& res) {
  ChatRequest cr = parse_chat_request(parse_json_body(req.body));
  check_model_name(ctx, cr.model);
  const ordered_json raw = ordered_json::parse(req.body);
  ChatJob prepared = prepare_chat(ctx, cr, raw, chat_thinking(raw));
  std::vector<Request> requests = std::move(prepared.requests);
  auto group = std::make_unique<ChoiceGroup>(ctx, std::move(requests));
  const std::string id = new_response_id("chatcmpl");
  const int64_t created = unix_time_now();
  const std::string model = ctx.model_id;
  const bool want_logprobs = cr.gen.logprobs;
  auto choices = std::make_shared<std::vector<ChatChoice>>(cr.gen.n);
  for (auto& c : *choices) c.output = std::make_unique<ChatOutput>(ctx, prepared);

  if (!cr.gen.stream) {
    run_blocking(req, ctx, *group, [&](size_t i, const Event& e) {
      ChatChoice& c = (*choices)[i];
      const bool end = e.kind == EventKind::Finish;
      ChatDelta d = c.output->push(e);
      c.content += d.content;
      c.reasoning += d.reasoning;
      for (auto& call : d.calls) c.calls.push_back(std::move(call));
      if (want_logprobs)
        for (auto& t : e.tokens) c.logprobs.push_back(to_response_logprob(ctx, t));
      if (end) {
        c.metrics = e.metrics;
        c.finish_reason = c.finish_name(e.reason);
      }
    });
    json out = json::array();
    for (size_t i = 0; i < choices->size(); ++i) {
      const ChatChoice& c = (*choices)[i];
      json message = {{"role", "assistant"}, {"content", c.calls.empty() || !c.content.empty() ? json(c.content) : json(nullptr)}};
      if (!c.reasoning.empty()) message["reasoning_content"] = c.reasoning;
      if (!c.calls.empty()) message["tool_calls"] = tool_calls_json(c.calls, 0, false);
      out.push_back({{"index", i}, {"message", message}, {"logprobs", want_logprobs ? chat_logprobs_json(c.logprobs) : json(nullptr)},
                     {"finish_reason", c.finish_reason}});
    }
    send_json(res, {{"id", id}, {"object", "chat.completion"}, {"created", created}, {"model", model},
                    {"choices", out}, {"usage", usage_json(chat_usage(*choices))}});
    return;
  }

  const bool include_usage = cr.gen.include_usage;
  auto chunk = [=](json choice) {
    json c = {{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", model},
              {"choices", json::array({std::move(choice)})}};
    if (include_usage) c["usage"] = nullptr;
    return sse_data(c);
  };
  SseJob job;
  job.group = std::move(group);
  const int n = cr.gen.n;
  job.on_start = [=] {
    std::string out;
    for (int i = 0; i < n; ++i)
      out += chunk({{"index", i}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr},
                    {"finish_reason", nullptr}});
    return out;
  };
  job.on_event = [=, &ctx](size_t i, const Event& e) -> std::string {
    ChatChoice& c = (*choices)[i];
    const bool end = e.kind == EventKind::Finish;
    ChatDelta d = c.output->push(e);
    std::vector<ParsedToolCall>& new_calls = d.calls;
    json delta = json::object();
    // The thought streams as deltas of its own (reasoning_content, as vLLM and DeepSeek send it).
    if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
    if (!d.content.empty()) delta["content"] = d.content;
    if (!new_calls.empty()) delta["tool_calls"] = tool_calls_json(new_calls, c.calls.size(), true);
    for (auto& call : new_calls) c.calls.push_back(std::move(call));
    json lp = nullptr;
    if (want_logprobs && !e.tokens.empty()) {
      std::vector<TokenLogprob> lps;
      for (auto& t : e.tokens) lps.push_back(to_response_logprob(ctx, t));
      lp = chat_logprobs_json(lps);
    }
    std::string out;
    if (!delta.empty() || !lp.is_null())
      out += chunk({{"index", i}, {"delta", delta}, {"logprobs", lp}, {"finish_reason", nullptr}});
    if (end) {
      c.metrics = e.metrics;
      out += chunk({{"index", i}, {"delta", json::object()}, {"logprobs", nullptr}, {"finish_reason", c.finish_name(e.reason)}});
    }
    return out;
  };
  job.on_end = [=]() -> std::string {
    if (!include_usage) return {};
    return sse_data({{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", model},
                     {"choices", json::array()}, {"usage", usage_json(chat_usage(*choices))}});
  };
  stream_sse(req, res, ctx, job);
}

}  // namespace

void register_chat_routes(HttpServer& http, ServingContext& ctx) {
  http.add_route("POST", "/v1/chat/completions", kRouteNeedsModel | kRouteGeneration,
                 [&ctx](const HttpRequest& req, HttpResponse& res) { handle_chat(ctx, req, res); });
}

}  // namespace ax::server
