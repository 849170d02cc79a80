#pragma once
// The engine's record of one request while it lives (engine-internal; front ends see Request,
// RequestHandle and Event). Everything that must survive preemption is here: the tokens so far,
// the sampler (its RNG and penalty counts), the text decoder and the stop matcher. What is lost on
// preemption is only K/V, which is recomputed.
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/events.h"
#include "engine/request.h"
#include "engine/sampler.h"
#include "engine/spec_sequence.h"
#include "engine/stop_matcher.h"
#include "tokenizer/tokenizer.h"

namespace ax {

using EngineClock = std::chrono::steady_clock;

struct Sequence {
  Sequence(uint64_t id_, Request req, int64_t vocab_size, const Tokenizer* tok, int64_t capacity)
      : id(id_),
        request(std::move(req)),
        tokens(request.prompt),
        num_prompt(static_cast<int64_t>(request.prompt.size())),
        max_total(std::min(num_prompt + request.stop.max_tokens, capacity)),
        sampler(request.sampling, vocab_size),
        spec(request.speculation, request.prompt),
        stop(request.stop.stop_strings),
        events(std::make_shared<EventChannel>()),
        submitted(EngineClock::now()) {
    sampler.add_context(request.prompt);
    if (tok) {
      // Prime the decoder with the prompt (output dropped): the continuation's text then starts
      // where the prompt's ends (no SentencePiece leading-space strip in mid-text, a character
      // split across the boundary comes out whole).
      decoder = std::make_unique<StreamDecoder>(*tok, /*skip_special=*/true);
      for (int32_t t : request.prompt) decoder->push(t);
    }
  }

  int64_t generated() const { return static_cast<int64_t>(tokens.size()) - num_prompt; }
  int64_t num_tokens() const { return static_cast<int64_t>(tokens.size()); }

  uint64_t id;
  Request request;
  std::vector<int32_t> tokens;  // prompt + generated
  int64_t num_prompt;
  int64_t num_computed = 0;     // leading tokens whose K/V is in the cache (the rest: not yet)
  int32_t state_slot = -1;      // hybrid models: the recurrent-state slot while running (-1: none)
  int64_t max_total;            // prompt + max_tokens, clamped to the sequence capacity
  RequestState state = RequestState::Waiting;
  Sampler sampler;
  SpecSequence spec;  // n-gram drafter, accept-rate gate and counters (engine/spec_sequence.h)
  std::unique_ptr<StreamDecoder> decoder;  // null without a tokenizer
  StopMatcher stop;
  std::shared_ptr<EventChannel> events;
  // Speculative decoding: the draft tokens proposed for this step (empty: plain decode). The
  // scheduler may grant fewer rows than 1 + draft.size(); only the granted prefix is verified.
  std::vector<int32_t> draft;

  // Metrics.
  EngineClock::time_point submitted, first_scheduled, first_token;
  bool was_scheduled = false, has_token = false;
  int64_t cached_tokens = 0;  // at first admission
  int64_t preemptions = 0;
};

}  // namespace ax
