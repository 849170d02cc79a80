#pragma once
// Counters of n-gram speculation, per request and summed over the engine (metrics snapshot,
// /metrics, bench). "Steps saved" counts accepted draft tokens: each is a token that needed no
// forward pass of its own.
#include <cstdint>

namespace ax {

struct SpecMetrics {
  int64_t verify_steps = 0;     // sequence-steps that verified a non-empty draft
  int64_t drafted_tokens = 0;   // draft tokens sent to the model
  int64_t accepted_tokens = 0;  // draft tokens the model agreed with (= decode steps saved)
  int64_t gate_closures = 0;    // times the accept-rate gate turned drafting off
  int64_t batch_capped = 0;     // sequence-steps whose draft the batch row budget shortened

  double acceptance_rate() const {
    return drafted_tokens ? static_cast<double>(accepted_tokens) / drafted_tokens : 0.0;
  }
  // Mean draft tokens accepted per verify step (the bonus/correction token not counted).
  double mean_accepted_length() const {
    return verify_steps ? static_cast<double>(accepted_tokens) / verify_steps : 0.0;
  }
  int64_t steps_saved() const { return accepted_tokens; }

  SpecMetrics& operator+=(const SpecMetrics& o) {
    verify_steps += o.verify_steps;
    drafted_tokens += o.drafted_tokens;
    accepted_tokens += o.accepted_tokens;
    gate_closures += o.gate_closures;
    batch_capped += o.batch_capped;
    return *this;
  }
};

}  // namespace ax
