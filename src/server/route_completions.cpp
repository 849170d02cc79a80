// POST /v1/completions: a prompt (text or token ids) continued, blocking or streamed.
#include "server/api_error.h"
#include "server/chat_generation.h"
#include "server/http_server.h"
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

void handle_completion(ServingContext& ctx, const HttpRequest& req, HttpResponse& res) {
  CompletionRequest cr = parse_completion_request(parse_json_body(req.body));
  check_model_name(ctx, cr.model);
  // response_format constrains the continuation as on chat (an extension here, as in vLLM).
  std::shared_ptr<const CompiledSchema> schema = response_format_grammar(cr.gen.response_format);
  if (schema && cr.gen.ignore_eos) bad_param("ignore_eos", "cannot be combined with response_format");
  if (schema && ctx.eos_ids.empty()) bad_param("response_format", "needs an end-of-sequence token, and this model has none");
  // Each prompt is its own engine request per choice; choice prompt * n + j.
  std::vector<Request> requests;
  std::vector<std::string> echo_text;  // per choice
  for (size_t k = 0; k < cr.prompts.size(); ++k) {
    const CompletionPrompt& p = cr.prompts[k];
    const std::string param = cr.batched ? fmt::format("prompt[{}]", k) : "prompt";
    std::vector<int32_t> prompt;
    if (p.is_tokens) {
      check_token_ids(p.tokens, ctx.vocab_size, param);
      prompt = p.tokens;
    } else {
      prompt = ctx.text_tokenizer().encode(p.text, /*add_special=*/true, /*parse_special=*/true);
    }
    const std::string echo = cr.echo ? ctx.text_tokenizer().decode(prompt, /*skip_special=*/true) : std::string();
    for (Request& r : make_choice_requests(ctx, prompt, cr.gen, param, schema)) {
      requests.push_back(std::move(r));
      echo_text.push_back(echo);
    }
  }
  const size_t n_choices = requests.size();

  auto group = std::make_unique<ChoiceGroup>(ctx, std::move(requests));
  const std::string id = new_response_id("cmpl");
  const int64_t created = unix_time_now();
  const std::string model = ctx.model_id;
  const bool want_logprobs = cr.gen.logprobs;

  if (!cr.gen.stream) {
    std::vector<CompletionChoice> choices(n_choices);
    run_blocking(req, ctx, *group, [&](size_t i, const Event& e) {
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
      json lp = want_logprobs ? completion_logprobs_json(choices[i].logprobs, static_cast<int64_t>(echo_text[i].size()))
                              : json(nullptr);
      out_choices.push_back({{"index", i}, {"text", echo_text[i] + choices[i].text}, {"logprobs", lp},
                             {"finish_reason", choices[i].finish_reason}});
    }
    send_json(res, {{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model},
                    {"choices", out_choices}, {"usage", usage_json(total_usage(choices, cr.gen.n))}});
    return;
  }

  // Streaming: one chunk per engine event with text (or logprobs), one with the finish reason.
  struct State {
    std::vector<CompletionChoice> choices;
    std::vector<int64_t> text_offset;
  };
  auto st = std::make_shared<State>();
  st->choices.resize(n_choices);
  for (const std::string& echo : echo_text) st->text_offset.push_back(static_cast<int64_t>(echo.size()));
  const bool include_usage = cr.gen.include_usage;
  auto chunk = [=](json choice) {
    json c = {{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model},
              {"choices", json::array({std::move(choice)})}};
    if (include_usage) c["usage"] = nullptr;
    return sse_data(c);
  };
  SseJob job;
  job.group = std::move(group);
  const size_t n = cr.gen.n;
  job.on_start = [=] {
    std::string out;
    for (size_t i = 0; i < echo_text.size(); ++i)
      if (!echo_text[i].empty())
        out += chunk({{"index", i}, {"text", echo_text[i]}, {"logprobs", nullptr}, {"finish_reason", nullptr}});
    return out;
  };
  job.on_event = [=, &ctx](size_t i, const Event& e) -> std::string {
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
  job.on_end = [=]() -> std::string {
    if (!include_usage) return {};
    return sse_data({{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model},
                     {"choices", json::array()}, {"usage", usage_json(total_usage(st->choices, n))}});
  };
  stream_sse(req, res, ctx, job);
}

}  // namespace

void register_completion_routes(HttpServer& http, ServingContext& ctx) {
  http.add_route("POST", "/v1/completions", kRouteNeedsModel | kRouteGeneration,
                 [&ctx](const HttpRequest& req, HttpResponse& res) { handle_completion(ctx, req, res); });
}

}  // namespace ax::server
