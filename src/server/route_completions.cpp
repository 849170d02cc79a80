// POST /v1/completions: a prompt (text or token ids) continued, blocking or streamed.
#include "server/api_error.h"
#include "server/http_server.h"
#include "server/httplib_config.h"
#include "server/openai_request.h"
#include "server/openai_response.h"
#include "server/serving.h"
#include "server/sse_stream.h"
#include "server/token_mask.h"
#include "tokenizer/tokenizer.h"

namespace ax::server {
namespace {

using nlohmann::json;

struct CompletionChoice {
  std::string text;
  std::vector<TokenLogprob> logprobs;
  std::string finish_reason;
  RequestMetrics metrics;
};

void handle_completion(ServingContext& ctx, const httplib::Request& req, httplib::Response& res) {
  CompletionRequest cr = parse_completion_request(parse_json_body(req.body));
  // response_format constrains the continuation as on chat (an extension here, as in vLLM).
  std::shared_ptr<const CompiledSchema> schema;
  if (cr.gen.response_format.kind == ResponseFormat::Kind::JsonObject)
    schema = std::make_shared<CompiledSchema>(any_json_object_schema());
  else if (cr.gen.response_format.kind == ResponseFormat::Kind::JsonSchema)
    schema = std::make_shared<CompiledSchema>(
        compile_json_schema(cr.gen.response_format.schema, "response_format.json_schema.schema"));
  if (schema && cr.gen.ignore_eos) bad_param("ignore_eos", "cannot be combined with response_format");
  if (schema && ctx.eos_ids.empty()) bad_param("response_format", "needs an end-of-sequence token, and this model has none");
  std::vector<int32_t> prompt;
  if (cr.prompt_is_tokens) {
    check_token_ids(cr.prompt_tokens, ctx.vocab_size, "prompt");
    prompt = cr.prompt_tokens;
  } else {
    prompt = ctx.tokenizer->encode(cr.prompt_text, /*add_special=*/true, /*parse_special=*/true);
  }
  const std::string echo_text = cr.echo ? ctx.tokenizer->decode(prompt, /*skip_special=*/true) : std::string();
  std::vector<Request> requests = make_choice_requests(ctx, prompt, cr.gen, "prompt", schema);

  auto slot = std::make_unique<InFlightSlot>(ctx);
  auto group = std::make_unique<ChoiceGroup>(ctx, std::move(requests));
  const std::string id = new_response_id("cmpl");
  const int64_t created = unix_time_now();
  const std::string model = ctx.model_id;
  const bool want_logprobs = cr.gen.logprobs;

  if (!cr.gen.stream) {
    std::vector<CompletionChoice> choices(cr.gen.n);
    run_blocking(ctx, *group, [&](size_t i, const Event& e) {
      CompletionChoice& c = choices[i];
      if (e.kind == EventKind::Token) {
        c.text += e.text;
        if (want_logprobs)
          for (auto& t : e.tokens) c.logprobs.push_back(to_response_logprob(ctx, t));
      } else {
        c.finish_reason = finish_reason_name(e.reason);
        c.metrics = e.metrics;
      }
    });
    json out_choices = json::array();
    for (size_t i = 0; i < choices.size(); ++i) {
      json lp = want_logprobs ? completion_logprobs_json(choices[i].logprobs, static_cast<int64_t>(echo_text.size()))
                              : json(nullptr);
      out_choices.push_back({{"index", i}, {"text", echo_text + choices[i].text}, {"logprobs", lp},
                             {"finish_reason", choices[i].finish_reason}});
    }
    send_json(res, {{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model},
                    {"choices", out_choices}, {"usage", usage_json(total_usage(choices))}});
    return;
  }

  // Streaming: one chunk per engine event with text (or logprobs), one with the finish reason.
  struct State {
    std::vector<CompletionChoice> choices;
    std::vector<int64_t> text_offset;
  };
  auto st = std::make_shared<State>();
  st->choices.resize(cr.gen.n);
  st->text_offset.assign(cr.gen.n, static_cast<int64_t>(echo_text.size()));
  const bool include_usage = cr.gen.include_usage;
  auto chunk = [=](json choice) {
    json c = {{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model},
              {"choices", json::array({std::move(choice)})}};
    if (include_usage) c["usage"] = nullptr;
    return sse_data(c);
  };
  auto job = std::make_shared<SseJob>();
  job->slot = std::move(slot);
  job->group = std::move(group);
  const int n = cr.gen.n;
  job->on_start = [=] {
    std::string out;
    if (!echo_text.empty())
      for (int i = 0; i < n; ++i)
        out += chunk({{"index", i}, {"text", echo_text}, {"logprobs", nullptr}, {"finish_reason", nullptr}});
    return out;
  };
  job->on_event = [=, &ctx](size_t i, const Event& e) -> std::string {
    CompletionChoice& c = st->choices[i];
    if (e.kind == EventKind::Finish) {
      c.metrics = e.metrics;
      return chunk({{"index", i}, {"text", ""}, {"logprobs", nullptr}, {"finish_reason", finish_reason_name(e.reason)}});
    }
    json lp = nullptr;
    if (want_logprobs && !e.tokens.empty()) {
      std::vector<TokenLogprob> lps;
      for (auto& t : e.tokens) lps.push_back(to_response_logprob(ctx, t));
      lp = completion_logprobs_json(lps, st->text_offset[i]);
      for (auto& l : lps) st->text_offset[i] += static_cast<int64_t>(l.bytes.size());
    }
    if (e.text.empty() && lp.is_null()) return {};
    return chunk({{"index", i}, {"text", e.text}, {"logprobs", lp}, {"finish_reason", nullptr}});
  };
  job->on_end = [=]() -> std::string {
    if (!include_usage) return {};
    return sse_data({{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model},
                     {"choices", json::array()}, {"usage", usage_json(total_usage(st->choices))}});
  };
  stream_sse(res, ctx, job);
}

}  // namespace

void register_completion_routes(HttpServer& http, ServingContext& ctx) {
  http.add_route("POST", "/v1/completions", kRouteNeedsModel | kRouteGeneration,
                 [&ctx](const httplib::Request& req, httplib::Response& res) { handle_completion(ctx, req, res); });
}

}  // namespace ax::server
