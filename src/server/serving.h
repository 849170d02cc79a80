#pragma once
// The bridge between HTTP requests and the engine: starting and stopping it, turning parsed
// OpenAI options into engine Requests, and following the events of the n choices of one request.
#include <chrono>
#include <memory>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/events.h"
#include "engine/request.h"
#include "server/metrics.h"
#include "server/openai_request.h"
#include "server/openai_response.h"
#include "server/server_context.h"
#include "server/token_mask.h"

namespace ax::server {

// Creates the engine over ctx.model/ctx.tokenizer and starts its thread; fills eos_ids,
// vocab_size and max_context.
void start_engine(ServingContext& ctx);
void stop_engine(ServingContext& ctx);
// The engine's snapshot as Prometheus gauges and counters (queue, KV, prefix cache, speculation).
std::vector<ExternalMetric> engine_metrics(ServingContext& ctx);

// An engine request for one choice. prompt_param names the request field the prompt came from
// (for the context-overflow error). Choice i > 0 of a seeded request gets seed + i, so the n
// choices differ but the whole response is reproducible.
Request make_engine_request(const ServingContext& ctx, std::vector<int32_t> prompt, const GenerationOptions& gen,
                            int choice, const std::string& prompt_param);

// The engine requests of an n-choice HTTP request (make_engine_request for each). With a schema
// (response_format, forced tool calls) each choice gets its own JSON constraint: choices walk the
// grammar independently.
std::vector<Request> make_choice_requests(ServingContext& ctx, const std::vector<int32_t>& prompt,
                                          const GenerationOptions& gen, const std::string& prompt_param,
                                          const std::shared_ptr<const CompiledSchema>& schema);

// A request's "model": empty (not given), the served model's id or one of its aliases; anything
// else is a 404 model_not_found, as OpenAI answers it.
void check_model_name(const ServingContext& ctx, const std::string& model);
// Whether model is the served model's id or one of its aliases.
bool serves_model(const ServingContext& ctx, const std::string& model);

// Converts engine logprobs to the response's (token bytes filled in from the tokenizer).
TokenLogprob to_response_logprob(const ServingContext& ctx, const TokenInfo& t);

// The n choices of one HTTP request, followed together. Choices still running when this is
// destroyed (the client went away, an error) are cancelled, which frees their KV blocks.
class ChoiceGroup {
 public:
  ChoiceGroup(ServingContext& ctx, std::vector<Request> requests);
  ~ChoiceGroup();
  ChoiceGroup(const ChoiceGroup&) = delete;
  ChoiceGroup& operator=(const ChoiceGroup&) = delete;

  size_t size() const { return handles_.size(); }
  // The next event of any unfinished choice, waiting at most `timeout`.
  std::optional<std::pair<size_t, Event>> next(std::chrono::milliseconds timeout);
  bool done() const { return finished_count_ == handles_.size(); }
  void cancel();

 private:
  void record(size_t i, const Event& e);
  ServingContext& ctx_;
  std::vector<RequestHandle> handles_;
  std::vector<bool> finished_;
  size_t finished_count_ = 0;
  size_t cursor_ = 0;  // round-robin start, so no choice starves
  std::chrono::steady_clock::time_point start_;
  std::vector<std::chrono::steady_clock::time_point> last_token_;
  uint64_t live_key_ = 0;  // this request in ctx.live_requests
};

// The OpenAI finish_reason of an engine finish ("stop", "length"); errors are not finishes.
const char* finish_reason_name(FinishReason r);

}  // namespace ax::server
