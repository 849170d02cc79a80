// POST /v1/generate and /v1/generate/stream: token ids in, token ids out, for benchmarks and SDKs
// that tokenize themselves.
//   request:  {"input_tokens": [ids] | "input_text": str | "messages": [...] (with
//              "chat_template_kwargs", rendered as /v1/chat/completions renders them),
//              "max_output_tokens": N (default: the rest
//              of the context), "sampling": {temperature, top_p, top_k, min_p, repetition_penalty,
//              ...}, "ignore_eos": bool, "stop_token_ids": [ids], "stop": str | [str],
//              "speculation": {...}, "logprobs": bool}
//   response: {"output_tokens", "output_text", "finish_reason", "usage", "timings"}
//             (output_text and the events' text are null for a model without a tokenizer)
//   stream:   one SSE event per engine step {"tokens": [ids], "text": str}, then a final event
//             with finish_reason, usage and timings, then [DONE].
#include "server/api_error.h"
#include "server/chat_prompt.h"
#include "server/http_server.h"
#include "server/openai_request.h"
#include "server/openai_response.h"
#include "server/serving.h"
#include "server/sse_stream.h"
#include "tokenizer/tokenizer.h"

namespace ax::server {
namespace {

using nlohmann::json;

json timings_json(const RequestMetrics& m) {
  return {{"queue_ms", m.queue_s * 1e3}, {"ttft_ms", m.ttft_s * 1e3}, {"total_ms", m.total_s * 1e3},
          {"decode_tokens_per_s", m.decode_tokens_per_s}, {"preemptions", m.preemptions}};
}

Usage usage_of(const RequestMetrics& m) { return {m.prompt_tokens, m.completion_tokens, m.cached_tokens}; }

json token_logprobs_json(ServingContext& ctx, const std::vector<TokenInfo>& tokens) {
  json a = json::array();
  for (auto& t : tokens) {
    json top = json::array();
    for (auto& alt : t.top) top.push_back({{"token", alt.token}, {"logprob", alt.logprob}});
    a.push_back({{"token", t.id}, {"logprob", t.logprob}, {"top_logprobs", top}});
  }
  return a;
}

void handle_generate(ServingContext& ctx, const HttpRequest& req, HttpResponse& res, bool stream) {
  TokenGenerateRequest gr = parse_generate_request(parse_json_body(req.body));
  std::vector<int32_t> prompt;
  std::string prompt_param = "input_tokens";
  if (gr.input == TokenGenerateRequest::Input::Tokens) {
    check_token_ids(gr.input_tokens, ctx.vocab_size, "input_tokens");
    prompt = gr.input_tokens;
  } else if (gr.input == TokenGenerateRequest::Input::Text) {
    prompt_param = "input_text";
    prompt = ctx.text_tokenizer().encode(gr.input_text, /*add_special=*/true, /*parse_special=*/true);
  } else {
    prompt_param = "messages";
    ChatRequest cr;
    cr.messages = std::move(gr.messages);
    prompt = render_chat_prompt(ctx, cr, nlohmann::ordered_json::parse(req.body), /*with_tools=*/false);
  }
  check_token_ids(gr.stop_token_ids, ctx.vocab_size, "stop_token_ids");
  if (!gr.stop.empty() && !ctx.tokenizer)
    bad_param("stop", "needs the model's tokenizer to match text, and this model has none; use stop_token_ids");
  GenerationOptions gen;
  gen.max_tokens = gr.max_output_tokens;
  gen.stop = gr.stop;
  gen.sampling = gr.sampling;
  gen.ignore_eos = gr.ignore_eos;
  gen.speculation = gr.speculation;
  gen.logprobs = gr.logprobs;
  gen.top_logprobs = gr.top_logprobs;
  Request r = make_engine_request(ctx, std::move(prompt), gen, 0, prompt_param);
  r.stop.stop_token_ids = gr.stop_token_ids;
  std::vector<Request> requests;
  requests.push_back(std::move(r));
  auto group = std::make_unique<ChoiceGroup>(ctx, std::move(requests));
  const bool want_logprobs = gr.logprobs;

  if (!stream) {
    std::vector<int32_t> out;
    std::vector<TokenInfo> infos;
    std::string text;
    Event finish;
    run_blocking(req, ctx, *group, [&](size_t, const Event& e) {
      if (e.kind == EventKind::Token) {
        for (auto& t : e.tokens) out.push_back(t.id);
        if (want_logprobs) infos.insert(infos.end(), e.tokens.begin(), e.tokens.end());
        text += e.text;
      } else {
        finish = e;
      }
    });
    json body = {{"output_tokens", out}, {"output_text", ctx.tokenizer ? json(text) : json(nullptr)}, {"finish_reason", finish_reason_name(finish.reason)},
                 {"usage", usage_json(usage_of(finish.metrics))}, {"timings", timings_json(finish.metrics)}};
    if (want_logprobs) body["logprobs"] = token_logprobs_json(ctx, infos);
    send_json(res, body);
    return;
  }

  SseJob job;
  job.group = std::move(group);
  job.on_event = [&ctx, want_logprobs](size_t, const Event& e) -> std::string {
    if (e.kind == EventKind::Finish)
      return sse_data({{"tokens", json::array()}, {"text", ctx.tokenizer ? json("") : json(nullptr)}, {"finish_reason", finish_reason_name(e.reason)},
                       {"usage", usage_json(usage_of(e.metrics))}, {"timings", timings_json(e.metrics)}});
    json ids = json::array();
    for (auto& t : e.tokens) ids.push_back(t.id);
    json ev = {{"tokens", ids}, {"text", ctx.tokenizer ? json(e.text) : json(nullptr)}};
    if (want_logprobs) ev["logprobs"] = token_logprobs_json(ctx, e.tokens);
    return sse_data(ev);
  };
  stream_sse(req, res, ctx, job);
}

}  // namespace

void register_generate_routes(HttpServer& http, ServingContext& ctx) {
  http.add_route("POST", "/v1/generate", kRouteNeedsModel | kRouteGeneration,
                 [&ctx](const HttpRequest& req, HttpResponse& res) { handle_generate(ctx, req, res, false); });
  http.add_route("POST", "/v1/generate/stream", kRouteNeedsModel | kRouteGeneration,
                 [&ctx](const HttpRequest& req, HttpResponse& res) { handle_generate(ctx, req, res, true); });
}

}  // namespace ax::server
