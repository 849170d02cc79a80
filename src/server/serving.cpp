#include "server/serving.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>

#include <fmt/ranges.h>

#include "engine/engine.h"
#include "engine/metric_samples.h"
#include "model/embedding.h"
#include "model/model.h"
#include "server/api_error.h"
#include "server/chat_prompt.h"
#include "server/http_server.h"
#include "server/prompt_guard.h"
#include "tokenizer/chat_prompt.h"
#include "server/reasoning_parser.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace ax::server {

void start_engine(ServingContext& ctx) {
  const ModelConfig& cfg = ctx.model->config();
  EngineConfig ec;
  // --kv-memory-mb unset: 512 MiB on the CPU (the weights share that memory), the backend's own
  // default elsewhere (a share of the device memory free after the weights).
  int64_t kv_mb = ctx.options.kv_memory_mb;
  if (kv_mb < 0) kv_mb = ctx.model->backend().name() == "cpu" ? 512 : 0;
  ec.kv_memory_bytes = kv_mb * (int64_t{1} << 20);
  ec.kv_type = ctx.options.kv_type;
  ec.max_num_seqs = ctx.options.max_num_seqs;
  ctx.engine = std::make_unique<Engine>(*ctx.model, ctx.tokenizer.get(), ec);
  ctx.vocab_size = cfg.vocab_size;
  ctx.max_context = ctx.engine->sequence_capacity();
  ctx.eos_ids.assign(cfg.eos_token_ids.begin(), cfg.eos_token_ids.end());
  ctx.embedding_pooling = detect_embedding_pooling(*ctx.source);
  if (ctx.tokenizer) {  // without one: token ids only, no control texts, no chat template
    for (int32_t id : ctx.tokenizer->eos_ids())
      if (std::find(ctx.eos_ids.begin(), ctx.eos_ids.end(), id) == ctx.eos_ids.end()) ctx.eos_ids.push_back(id);
    ctx.control_texts = control_token_texts(*ctx.tokenizer);
    // A template that does not parse leaves chat unavailable (a 400 saying why), not the server down.
    const std::string source = ctx.tokenizer->chat_template();
    if (!source.empty()) {
      try {
        ctx.chat_template = std::make_unique<ChatTemplate>(source);
        ctx.chat_caps = probe_chat_template(*ctx.chat_template, chat_template_options(*ctx.tokenizer));
        ctx.reasoning_format = reasoning_format_of_template(source);
      } catch (const std::exception& e) {
        ctx.chat_template_error = e.what();
      }
    }
  }
  ctx.responses = std::make_unique<ResponseStore>(ctx.options.max_stored_responses, ctx.options.stored_responses_mb << 20);
  ctx.engine->start();
}

void stop_engine(ServingContext& ctx) {
  if (ctx.engine) ctx.engine->stop();
}

namespace {
// Resident set size from /proc/self/statm (pages), 0 where unavailable.
double resident_bytes() {
  std::ifstream f("/proc/self/statm");
  double size = 0, resident = 0;
  if (!(f >> size >> resident)) return 0;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE));
}
}  // namespace

std::vector<ExternalMetric> engine_metrics(ServingContext& ctx) {
  if (!ctx.engine) return {};
  std::vector<ExternalMetric> samples = metric_samples(ctx.engine->metrics());
  samples.push_back({"process_resident_memory_bytes", "Resident memory of the server process.", "gauge", resident_bytes()});
  return samples;
}

std::vector<Request> make_choice_requests(ServingContext& ctx, const std::vector<int32_t>& prompt,
                                          const GenerationOptions& gen, const std::string& prompt_param,
                                          const std::shared_ptr<const CompiledSchema>& schema) {
  std::vector<Request> requests;
  for (int i = 0; i < gen.n; ++i) {
    requests.push_back(make_engine_request(ctx, prompt, gen, i, prompt_param));
    if (schema) requests.back().logits_processor = std::make_shared<JsonConstraint>(schema, ctx.token_trie(), ctx.eos_ids);
  }
  return requests;
}

Request make_engine_request(const ServingContext& ctx, std::vector<int32_t> prompt, const GenerationOptions& gen,
                            int choice, const std::string& prompt_param) {
  if (prompt.empty()) bad_param(prompt_param, "encodes to no tokens; the prompt must not be empty");
  if (gen.truncate_prompt_tokens && static_cast<int64_t>(prompt.size()) > *gen.truncate_prompt_tokens)
    prompt.erase(prompt.begin(), prompt.end() - *gen.truncate_prompt_tokens);
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  if (n_prompt >= ctx.max_context)
    throw ApiError(400,
                   fmt::format("This model's maximum context length is {} tokens, but the prompt has {} tokens; "
                               "shorten '{}'.", ctx.max_context, n_prompt, prompt_param),
                   "invalid_request_error", prompt_param, "context_length_exceeded");
  Request r;
  r.stop.max_tokens = ctx.max_context - n_prompt;
  if (gen.max_tokens) {
    if (n_prompt + *gen.max_tokens > ctx.max_context)
      throw ApiError(400,
                     fmt::format("This model's maximum context length is {} tokens; the prompt has {} and max_tokens "
                                 "asks for {} more. Lower 'max_tokens' to at most {}.",
                                 ctx.max_context, n_prompt, *gen.max_tokens, ctx.max_context - n_prompt),
                     "invalid_request_error", "max_tokens", "context_length_exceeded");
    r.stop.max_tokens = *gen.max_tokens;
  }
  r.prompt = std::move(prompt);
  const SamplingOptions& s = gen.sampling;
  r.sampling.temperature = s.temperature;
  r.sampling.top_k = s.top_k;
  r.sampling.top_p = s.top_p;
  r.sampling.min_p = s.min_p;
  r.sampling.repetition_penalty = s.repetition_penalty;
  r.sampling.presence_penalty = s.presence_penalty;
  r.sampling.frequency_penalty = s.frequency_penalty;
  for (auto [id, bias] : s.logit_bias) {
    if (id >= ctx.vocab_size) bad_param("logit_bias", "names token id {}, outside the vocabulary [0, {})", id, ctx.vocab_size);
    r.sampling.logit_bias[id] = bias;
  }
  // Unseeded requests get a fresh seed; seeded ones are reproducible (choice i: seed + i).
  r.sampling.seed = s.seed ? *s.seed + static_cast<uint64_t>(choice) : std::random_device{}() * 0x9E3779B97F4A7C15ull + choice;
  r.stop.ignore_eos = gen.ignore_eos;
  r.stop.stop_strings = gen.stop;
  r.top_logprobs = gen.logprobs ? gen.top_logprobs : -1;
  r.speculation.enabled = ctx.options.default_speculation;
  r.speculation.max_draft = ctx.options.default_max_draft;
  if (gen.speculation.mode == SpeculationOptions::Mode::Ngram) r.speculation.enabled = true;
  if (gen.speculation.mode == SpeculationOptions::Mode::Off) r.speculation.enabled = false;
  if (gen.speculation.max_draft > 0) r.speculation.max_draft = gen.speculation.max_draft;
  return r;
}

bool serves_model(const ServingContext& ctx, const std::string& model) {
  const auto& aliases = ctx.options.model_aliases;
  return model == ctx.model_id || std::find(aliases.begin(), aliases.end(), model) != aliases.end();
}

void check_model_name(const ServingContext& ctx, const std::string& model) {
  if (model.empty() || serves_model(ctx, model)) return;
  const auto& aliases = ctx.options.model_aliases;
  throw ApiError(404,
                 fmt::format("The model '{}' does not exist; this server serves '{}'{}.", model, ctx.model_id,
                             aliases.empty() ? std::string() : fmt::format(" (also as {})", fmt::join(aliases, ", "))),
                 "invalid_request_error", "model", "model_not_found");
}

TokenLogprob to_response_logprob(const ServingContext& ctx, const TokenInfo& t) {
  // A model's vocabulary may be padded past the tokenizer's: such ids have no bytes (nor has any id
  // of a model without a tokenizer).
  const Tokenizer* tok = ctx.tokenizer.get();
  auto bytes = [tok](int32_t id) {
    return tok && id >= 0 && id < tok->vocab_size() ? tok->token_bytes(id) : std::string();
  };
  TokenLogprob lp;
  lp.token = t.id;
  lp.bytes = bytes(t.id);
  lp.logprob = t.logprob;
  for (const auto& alt : t.top) lp.top.push_back({alt.token, bytes(alt.token), alt.logprob});
  return lp;
}

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Cancelled: return "cancelled";
    case FinishReason::Error: return "error";
  }
  return "stop";
}

ChoiceGroup::ChoiceGroup(ServingContext& ctx, std::vector<Request> requests)
    : ctx_(ctx), start_(std::chrono::steady_clock::now()) {
  int64_t prompt_tokens = 0;
  for (const Request& r : requests) prompt_tokens += static_cast<int64_t>(r.prompt.size());
  live_key_ = ctx_.live_requests.add(static_cast<int>(requests.size()), prompt_tokens);
  try {
    for (auto& r : requests) handles_.push_back(ctx_.engine->submit(std::move(r)));
  } catch (...) {
    cancel();
    ctx_.live_requests.remove(live_key_);
    throw;
  }
  finished_.assign(handles_.size(), false);
  last_token_.assign(handles_.size(), start_);
}

ChoiceGroup::~ChoiceGroup() {
  ctx_.live_requests.remove(live_key_);
  if (!done()) {
    ctx_.metrics.count_cancelled();
    cancel();
  }
}

void ChoiceGroup::cancel() {
  for (size_t i = 0; i < handles_.size(); ++i)
    if (i >= finished_.size() || !finished_[i]) ctx_.engine->cancel(handles_[i].id);
}

void ChoiceGroup::record(size_t i, const Event& e) {
  auto now = std::chrono::steady_clock::now();
  if (e.kind == EventKind::Token) {
    ctx_.live_requests.add_tokens(live_key_, static_cast<int64_t>(e.tokens.size()));
    if (!e.tokens.empty()) {
      // Several tokens in one event (accepted drafts) share the gap.
      double gap = std::chrono::duration<double>(now - last_token_[i]).count();
      if (last_token_[i] != start_)
        for (size_t k = 0; k < e.tokens.size(); ++k) ctx_.metrics.observe_inter_token(gap / e.tokens.size());
      last_token_[i] = now;
    }
    return;
  }
  finished_[i] = true;
  ++finished_count_;
  const RequestMetrics& m = e.metrics;
  ctx_.metrics.add_prompt_tokens(m.prompt_tokens);
  ctx_.metrics.add_cached_tokens(m.cached_tokens);
  ctx_.metrics.add_generation_tokens(m.completion_tokens);
  if (m.completion_tokens > 0) ctx_.metrics.observe_ttft(m.ttft_s);
  ctx_.metrics.observe_request_duration(m.total_s);
}

std::optional<std::pair<size_t, Event>> ChoiceGroup::next(std::chrono::milliseconds timeout) {
  if (done()) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    for (size_t k = 0; k < handles_.size(); ++k) {
      size_t i = (cursor_ + k) % handles_.size();
      if (finished_[i]) continue;
      if (auto e = handles_[i].events->try_pop()) {
        cursor_ = (i + 1) % handles_.size();
        record(i, *e);
        return std::make_pair(i, std::move(*e));
      }
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::nullopt;
    // Sleep on one unfinished channel; with n == 1 this is an exact wait.
    size_t first = 0;
    while (finished_[first]) ++first;
    auto wait = std::min<std::chrono::steady_clock::duration>(
        deadline - now, handles_.size() == 1 ? deadline - now : std::chrono::milliseconds(2));
    if (auto e = handles_[first].events->pop_for(std::chrono::duration_cast<std::chrono::milliseconds>(wait) +
                                                 std::chrono::milliseconds(handles_.size() == 1 ? 1 : 0))) {
      cursor_ = (first + 1) % handles_.size();
      record(first, *e);
      return std::make_pair(first, std::move(*e));
    }
  }
}

}  // namespace ax::server
