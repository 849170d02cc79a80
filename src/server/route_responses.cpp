// POST /v1/responses and GET /v1/responses/{id}: OpenAI's Responses API, translated onto the chat
// pipeline (responses_request.h in, chat_generation.h through the engine, responses_response.h
// out). Stored responses (responses_store.h) carry a conversation on through previous_response_id.
#include "server/chat_generation.h"
#include "server/http_server.h"
#include "server/openai_response.h"
#include "server/output_blocks.h"
#include "server/responses_request.h"
#include "server/responses_response.h"
#include "server/sse_stream.h"

namespace ax::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

ApiError not_kept(const std::string& id, const std::string& param) {
  return ApiError(404,
                  fmt::format("No response '{}' is kept here: it was never made by this server, was made with "
                              "store: false, or was dropped to stay within the server's limits "
                              "(--max-stored-responses, --stored-responses-mb).", id),
                  "invalid_request_error", param, "previous_response_not_found");
}

// The reply as the assistant message of the stored conversation.
ordered_json reply_message(const OutputBlocks& blocks) {
  std::string text, reasoning;
  ordered_json calls = ordered_json::array();
  for (const OutputBlock& b : blocks.blocks()) {
    if (b.kind == OutputBlock::Kind::Text) text += b.text;
    else if (b.kind == OutputBlock::Kind::Reasoning) reasoning += b.text;
    else calls.push_back({{"id", b.call.id}, {"type", "function"}, {"function", {{"name", b.call.name}, {"arguments", b.text}}}});
  }
  ordered_json msg = {{"role", "assistant"}, {"content", text}};
  if (!reasoning.empty()) msg["reasoning_content"] = reasoning;
  if (!calls.empty()) msg["tool_calls"] = calls;
  return msg;
}

// One response as it forms.
struct ResponseState {
  ResponseState(const ServingContext& ctx, const ChatJob& job, ResponseWriter w) : output(ctx, job), writer(std::move(w)) {}
  ChatOutput output;
  OutputBlocks blocks;
  ResponseWriter writer;

  // A Token or Finish event; returns the stream's events for it.
  std::string push(ServingContext& ctx, const Event& e, const ResponsesRequest& rr, const std::string& id) {
    blocks.feed(output.push(e), &writer);
    if (e.kind != EventKind::Finish) return writer.take_events();
    blocks.finish(&writer);
    ResponseUsage u;
    u.input_tokens = e.metrics.prompt_tokens;
    u.cached_tokens = e.metrics.cached_tokens;
    u.output_tokens = e.metrics.completion_tokens;
    u.reasoning_tokens = output.reasoning_tokens();
    std::string events = writer.take_events() + writer.finish(blocks, e.reason == FinishReason::Length, u);
    if (rr.store) {
      ordered_json conversation = rr.conversation;
      conversation.push_back(reply_message(blocks));
      ctx.responses->put(id, {writer.response(), std::move(conversation)});
    }
    return events;
  }
};

void handle_create(ServingContext& ctx, const HttpRequest& req, HttpResponse& res) {
  const json body = parse_json_body(req.body);
  const std::string previous = previous_response_id_of(body);
  ordered_json history = ordered_json::array();
  if (!previous.empty()) {
    std::optional<StoredResponse> stored = ctx.responses->get(previous);
    if (!stored) throw not_kept(previous, "previous_response_id");
    history = std::move(stored->conversation);
  }
  auto rr = std::make_shared<ResponsesRequest>(parse_responses_request(body, ordered_json::parse(req.body), history));
  check_model_name(ctx, rr->chat.model);
  ChatJob job = prepare_chat(ctx, rr->chat, rr->chat_body, rr->thinking);
  const std::string id = new_response_id("resp", '_');
  const std::string model = rr->chat.model.empty() ? ctx.model_id : rr->chat.model;
  auto state = std::make_shared<ResponseState>(
      ctx, job, ResponseWriter(id, model, rr->echo, rr->previous_response_id, rr->store, rr->stream));
  auto group = std::make_unique<ChoiceGroup>(ctx, std::move(job.requests));

  if (!rr->stream) {
    run_blocking(req, ctx, *group, [&](size_t, const Event& e) { state->push(ctx, e, *rr, id); });
    send_json(res, state->writer.response());
    return;
  }
  SseJob sse;
  sse.group = std::move(group);
  sse.on_start = [state] { return state->writer.start_events(); };
  sse.on_event = [state, rr, id, &ctx](size_t, const Event& e) { return state->push(ctx, e, *rr, id); };
  sse.on_error = [state](const ApiError& e) { return state->writer.error_event(e); };
  sse.done_marker = false;  // the Responses stream ends with its last event, no [DONE]
  stream_sse(req, res, ctx, sse);
}

void handle_get(ServingContext& ctx, const HttpRequest& req, HttpResponse& res) {
  const std::string& id = req.path_params.at(0);
  std::optional<StoredResponse> stored = ctx.responses->get(id);
  if (!stored) throw not_kept(id, "response_id");
  send_json(res, stored->response);
}

}  // namespace

void register_responses_routes(HttpServer& http, ServingContext& ctx) {
  http.add_route("POST", "/v1/responses", kRouteNeedsModel | kRouteGeneration,
                 [&ctx](const HttpRequest& req, HttpResponse& res) { handle_create(ctx, req, res); });
  http.add_route("GET", "/v1/responses/([^/]+)", kRouteNeedsModel,
                 [&ctx](const HttpRequest& req, HttpResponse& res) { handle_get(ctx, req, res); });
}

}  // namespace ax::server
