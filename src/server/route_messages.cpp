// POST /v1/messages and /v1/messages/count_tokens: Anthropic's Messages API, translated onto the
// chat pipeline (anthropic_request.h in, chat_generation.h through the engine, anthropic_response.h
// out). Errors, streamed or not, take Anthropic's shape (kRouteAnthropic).
#include "server/anthropic_request.h"
#include "server/anthropic_response.h"
#include "server/chat_generation.h"
#include "server/http_server.h"
#include "server/openai_response.h"
#include "server/output_blocks.h"
#include "server/sse_stream.h"

namespace ax::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

MessagesRequest parse_body(ServingContext& ctx, const HttpRequest& req, bool for_count) {
  const json body = parse_json_body(req.body);
  MessagesRequest mr = parse_messages_request(body, ordered_json::parse(req.body), for_count);
  check_model_name(ctx, mr.chat.model);
  return mr;
}

// One reply as it forms.
struct MessageState {
  MessageState(const ServingContext& ctx, const ChatJob& job) : output(ctx, job) {}
  ChatOutput output;
  OutputBlocks blocks;
  AnthropicStop stop;
  int64_t output_tokens = 0;

  void finish(const Event& e, const std::vector<std::string>& stop_sequences, BlockSink* sink) {
    blocks.finish(sink);
    stop.kind = stop_kind(e, blocks.has_tool_calls(), stop_sequences);
    if (stop.kind == StopKind::StopString) stop.sequence = e.stop;
    output_tokens = e.metrics.completion_tokens;
  }
};

void handle_messages(ServingContext& ctx, const HttpRequest& req, HttpResponse& res) {
  MessagesRequest mr = parse_body(ctx, req, false);
  ChatJob job = prepare_chat(ctx, mr.chat, mr.chat_body, mr.thinking);
  auto state = std::make_shared<MessageState>(ctx, job);
  auto group = std::make_unique<ChoiceGroup>(ctx, std::move(job.requests));
  const std::string id = new_response_id("msg", '_');
  const std::string model = mr.chat.model.empty() ? ctx.model_id : mr.chat.model;
  const int64_t input_tokens = job.prompt_tokens;
  const std::vector<std::string> stops = mr.chat.gen.stop;

  if (!mr.stream) {
    run_blocking(req, ctx, *group, [&](size_t, const Event& e) {
      state->blocks.feed(state->output.push(e), nullptr);
      if (e.kind == EventKind::Finish) state->finish(e, stops, nullptr);
    });
    send_json(res, anthropic_message_json(id, model, state->blocks, state->stop, input_tokens, state->output_tokens));
    return;
  }
  SseJob sse;
  sse.group = std::move(group);
  sse.on_start = [=] { return AnthropicEventWriter::message_start(id, model, input_tokens) + AnthropicEventWriter::ping(); };
  sse.on_event = [=](size_t, const Event& e) {
    AnthropicEventWriter writer;
    state->blocks.feed(state->output.push(e), &writer);
    if (e.kind == EventKind::Finish) {
      state->finish(e, stops, &writer);
      writer.out += AnthropicEventWriter::message_end(state->stop, input_tokens, state->output_tokens);
    }
    return writer.out;
  };
  sse.on_error = [](const ApiError& e) { return AnthropicEventWriter::error(e); };
  sse.keep_alive = AnthropicEventWriter::ping();
  sse.done_marker = false;
  stream_sse(req, res, ctx, sse);
}

void handle_count_tokens(ServingContext& ctx, const HttpRequest& req, HttpResponse& res) {
  MessagesRequest mr = parse_body(ctx, req, true);
  const std::vector<int32_t> prompt = chat_prompt_tokens(ctx, mr.chat, mr.chat_body, mr.thinking);
  send_json(res, {{"input_tokens", prompt.size()}});
}

}  // namespace

void register_messages_routes(HttpServer& http, ServingContext& ctx) {
  http.add_route("POST", "/v1/messages", kRouteNeedsModel | kRouteGeneration | kRouteAnthropic,
                 [&ctx](const HttpRequest& req, HttpResponse& res) { handle_messages(ctx, req, res); });
  http.add_route("POST", "/v1/messages/count_tokens", kRouteNeedsModel | kRouteAnthropic,
                 [&ctx](const HttpRequest& req, HttpResponse& res) { handle_count_tokens(ctx, req, res); });
}

}  // namespace ax::server
