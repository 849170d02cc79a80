#pragma once
// Per-request event channels: the engine thread pushes, the front end's thread pops. Each request
// gets Token events as its tokens are produced, then exactly one Finish event (whose reason may be
// Error, with a message). Nothing here ever blocks the engine: push never waits.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/metrics.h"
#include "engine/request.h"

namespace ax {

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;  // natural log of the model's probability (raw logits, before sampling)
};

struct TokenInfo {
  int32_t id = 0;
  float logprob = 0;                 // when the request asked for logprobs
  std::vector<TokenLogprob> top;     // the top_logprobs most likely tokens, most likely first
};

enum class EventKind { Token, Finish };

struct Event {
  EventKind kind = EventKind::Token;
  // Token: the tokens this step produced (several when speculative decoding accepted a draft) and
  // the text that became final with them: complete UTF-8, and never part of a stop string. EOS and
  // stop tokens are listed but add no text.
  std::vector<TokenInfo> tokens;
  std::string text;
  // Finish.
  FinishReason reason = FinishReason::Stop;
  std::string stop;   // the stop string, or the stop/EOS token's text, that ended it
  std::string error;  // reason == Error: one sentence saying why
  RequestMetrics metrics;
};

class EventChannel {
 public:
  void push(Event e) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (e.kind == EventKind::Finish) finished_ = true;
      q_.push_back(std::move(e));
    }
    cv_.notify_all();
  }
  // Blocks until an event arrives.
  Event pop() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !q_.empty(); });
    return take();
  }
  // Waits at most `timeout`; nothing if no event came.
  std::optional<Event> pop_for(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !q_.empty(); })) return std::nullopt;
    return take();
  }
  std::optional<Event> try_pop() {
    std::lock_guard<std::mutex> lock(mu_);
    if (q_.empty()) return std::nullopt;
    return take();
  }
  // The Finish event has been pushed (it may still be queued).
  bool finished() const {
    std::lock_guard<std::mutex> lock(mu_);
    return finished_;
  }

 private:
  Event take() {
    Event e = std::move(q_.front());
    q_.pop_front();
    return e;
  }
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> q_;
  bool finished_ = false;
};

// What submit() returns: the request's id (for cancel) and its event channel.
struct RequestHandle {
  uint64_t id = 0;
  std::shared_ptr<EventChannel> events;
};

}  // namespace ax
