#pragma once
// What a front end (CLI, HTTP server, bench) hands the engine: a prompt as token ids, how to
// sample, when to stop. The engine owns everything else about the request's life:
//
//   waiting --admitted--> running --stop condition--> finished
//      ^                    |  \--cancel()---------> cancelled
//      +----preempted<------+   \--error-----------> failed
//
// A preempted request goes back to the waiting queue with its tokens (prompt + generated so far)
// and its sampler state; it recomputes its K/V later (mostly from the prefix cache) and continues
// exactly where it was, so preemption never changes its output.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/logits_processor.h"
#include "engine/sampler.h"
#include "engine/spec_params.h"

namespace ax {

struct StopConditions {
  int64_t max_tokens = 256;                 // generated tokens at most (clamped to the context)
  std::vector<int32_t> eos_ids;             // empty: the model's and tokenizer's EOS ids
  bool ignore_eos = false;                  // keep going past EOS (benchmarks, fixtures)
  std::vector<int32_t> stop_token_ids;      // extra tokens that end generation (not printed)
  std::vector<std::string> stop_strings;    // matched on decoded text across token boundaries;
                                            // the text returned ends before the stop string
};

struct Request {
  std::vector<int32_t> prompt;  // token ids, non-empty
  SamplingParams sampling;
  StopConditions stop;
  SpeculationParams speculation;
  int32_t top_logprobs = -1;    // -1: no logprobs; 0: the chosen token's; n: plus the n most likely
  // Optional constrained decoding (engine/logits_processor.h); shared so a copied Request keeps it.
  std::shared_ptr<LogitsProcessor> logits_processor;
};

enum class RequestState { Waiting, Running, Preempted, Finished, Cancelled, Failed };
const char* to_string(RequestState s);

enum class FinishReason {
  Stop,       // EOS, a stop token or a stop string
  Length,     // max_tokens, or the context / KV capacity is full
  Cancelled,  // Engine::cancel
  Error,      // rejected (can never fit) or the forward pass failed
};
const char* to_string(FinishReason r);

}  // namespace ax
