// POST /v1/chat/completions: messages rendered with the model's own chat template, generated,
// and returned as a message (blocking) or as chat.completion.chunk deltas (streaming). With
// tools, <tool_call> blocks in the output become tool_calls.
#include "server/api_error.h"
#include "server/chat_prompt.h"
#include "server/http_server.h"
#include "server/openai_request.h"
#include "server/openai_response.h"
#include "server/serving.h"
#include "server/sse_stream.h"
#include "server/token_mask.h"
#include "server/tool_call_parser.h"
#include "server/tool_call_schema.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

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
  std::vector<ParsedToolCall> calls;
  std::vector<TokenLogprob> logprobs;
  std::string finish_reason;
  RequestMetrics metrics;
  std::unique_ptr<ToolCallParser> parser;

  // Text from the engine through the tool-call parser (when tools are on): the content part.
  std::string take(const std::string& text, std::vector<ParsedToolCall>& new_calls, bool at_end) {
    if (!parser) return text;
    ToolParseOutput out = parser->push(text);
    if (at_end) {
      ToolParseOutput rest = parser->finish();
      out.content += rest.content;
      for (auto& c : rest.calls) out.calls.push_back(std::move(c));
    }
    for (auto& c : out.calls) new_calls.push_back(std::move(c));
    return out.content;
  }
  std::string finish_name(FinishReason r) const {
    return !calls.empty() && r == FinishReason::Stop ? "tool_calls" : finish_reason_name(r);
  }
};

// The grammar the output must follow, if any: response_format json_object / json_schema, or one
// tool call when tool_choice is "required" or names a function.
std::shared_ptr<const CompiledSchema> output_grammar(const ChatRequest& cr, bool tools_on) {
  const ResponseFormat& rf = cr.gen.response_format;
  const bool forced_tool = tools_on && (cr.tool_choice.mode == ToolChoice::Mode::Required ||
                                        cr.tool_choice.mode == ToolChoice::Mode::Named);
  if (forced_tool) {
    if (rf.kind != ResponseFormat::Kind::Text)
      bad_param("response_format", "cannot be combined with tool_choice 'required' or a named function");
    return std::make_shared<CompiledSchema>(compile_tool_call_schema(cr.tools, cr.tool_choice));
  }
  if (rf.kind == ResponseFormat::Kind::JsonObject) return std::make_shared<CompiledSchema>(any_json_object_schema());
  if (rf.kind == ResponseFormat::Kind::JsonSchema)
    return std::make_shared<CompiledSchema>(compile_json_schema(rf.schema, "response_format.json_schema.schema"));
  return nullptr;
}

void handle_chat(ServingContext& ctx, const HttpRequest& req, HttpResponse& res) {
  ChatRequest cr = parse_chat_request(parse_json_body(req.body));
  check_model_name(ctx, cr.model);
  const ordered_json raw = ordered_json::parse(req.body);
  const bool tools_on = !cr.tools.empty() && cr.tool_choice.mode != ToolChoice::Mode::None;
  std::shared_ptr<const CompiledSchema> schema = output_grammar(cr, tools_on);
  if (schema && cr.gen.ignore_eos)
    bad_param("ignore_eos", "cannot be combined with constrained output (response_format or a forced tool call)");
  if (schema && ctx.eos_ids.empty())
    bad_param("response_format", "needs an end-of-sequence token, and this model has none");
  std::vector<int32_t> prompt = render_chat_prompt(ctx, cr, raw, tools_on);
  std::vector<Request> requests = make_choice_requests(ctx, prompt, cr.gen, "messages", schema);

  auto group = std::make_unique<ChoiceGroup>(ctx, std::move(requests));
  const std::string id = new_response_id("chatcmpl");
  const int64_t created = unix_time_now();
  const std::string model = ctx.model_id;
  const bool want_logprobs = cr.gen.logprobs;
  auto choices = std::make_shared<std::vector<ChatChoice>>(cr.gen.n);
  if (tools_on)
    for (auto& c : *choices) c.parser = std::make_unique<ToolCallParser>();

  if (!cr.gen.stream) {
    run_blocking(req, ctx, *group, [&](size_t i, const Event& e) {
      ChatChoice& c = (*choices)[i];
      const bool end = e.kind == EventKind::Finish;
      c.content += c.take(e.text, c.calls, end);
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
      if (!c.calls.empty()) message["tool_calls"] = tool_calls_json(c.calls, 0, false);
      out.push_back({{"index", i}, {"message", message}, {"logprobs", want_logprobs ? chat_logprobs_json(c.logprobs) : json(nullptr)},
                     {"finish_reason", c.finish_reason}});
    }
    send_json(res, {{"id", id}, {"object", "chat.completion"}, {"created", created}, {"model", model},
                    {"choices", out}, {"usage", usage_json(total_usage(*choices, choices->size()))}});
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
    std::vector<ParsedToolCall> new_calls;
    std::string content = c.take(e.text, new_calls, end);
    json delta = json::object();
    if (!content.empty()) delta["content"] = content;
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
                     {"choices", json::array()}, {"usage", usage_json(total_usage(*choices, choices->size()))}});
  };
  stream_sse(req, res, ctx, job);
}

}  // namespace

void register_chat_routes(HttpServer& http, ServingContext& ctx) {
  http.add_route("POST", "/v1/chat/completions", kRouteNeedsModel | kRouteGeneration,
                 [&ctx](const HttpRequest& req, HttpResponse& res) { handle_chat(ctx, req, res); });
}

}  // namespace ax::server
