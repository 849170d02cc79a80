#include "engine/spec_gate.h"

#include <algorithm>

#include "util/error.h"

namespace ax {

int batch_draft_cap(const SpecGateOptions& o, int64_t decoding_sequences) {
  if (decoding_sequences <= 0) return 0;
  return static_cast<int>(std::max<int64_t>(0, o.max_rows_per_step / decoding_sequences - 1));
}

SpecGate::SpecGate(SpecGateOptions options)
    : o_(options), accept_(options.initial_accept), next_cooldown_(options.initial_cooldown) {
  if (!(o_.row_cost >= 0) || !(o_.ema_weight > 0 && o_.ema_weight <= 1) ||
      !(o_.initial_accept >= 0 && o_.initial_accept <= 1) || o_.initial_cooldown < 1 ||
      o_.max_cooldown < o_.initial_cooldown)
    fail("SpecGateOptions: row_cost must be >= 0, ema_weight in (0, 1], initial_accept in [0, 1] "
         "and 1 <= initial_cooldown <= max_cooldown");
}

int SpecGate::best_length(double a, double row_cost, int max_draft) {
  int best = 0;
  double best_ratio = 1.0, tokens = 1.0, term = 1.0;
  for (int j = 1; j <= max_draft; ++j) {
    term *= a;
    tokens += term;
    const double ratio = tokens / (1.0 + row_cost * j);
    if (ratio > best_ratio * (1 + 1e-9)) {
      best_ratio = ratio;
      best = j;
    }
  }
  return best;
}

int SpecGate::allowed(int max_draft) {
  if (max_draft <= 0) return 0;
  if (cooldown_left_ > 0) {
    if (--cooldown_left_ > 0) return 0;
    accept_ = o_.initial_accept;  // reopen: probe with an optimistic estimate
    probing_ = true;
  }
  const int j = best_length(accept_, o_.row_cost, max_draft);
  if (j > 0) return j;
  cooldown_left_ = next_cooldown_;
  next_cooldown_ = std::min(next_cooldown_ * 2, o_.max_cooldown);
  ++times_closed_;
  return 0;
}

void SpecGate::record(int drafted, int accepted) {
  if (drafted <= 0) return;
  // One geometric trial per accepted token, plus the failure that cut the draft (if it was cut).
  const double trials = accepted + (accepted < drafted ? 1 : 0);
  const double observed = accepted / trials;
  if (probing_) {
    accept_ = observed;  // a probe's evidence replaces the optimistic guess
    probing_ = false;
    if (best_length(accept_, o_.row_cost, drafted) > 0) next_cooldown_ = o_.initial_cooldown;
  } else {
    accept_ = (1 - o_.ema_weight) * accept_ + o_.ema_weight * observed;
  }
}

}  // namespace ax
