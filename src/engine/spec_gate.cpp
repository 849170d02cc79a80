#include "engine/spec_gate.h"

#include <algorithm>

#include "util/error.h"

namespace ax {

int batch_draft_cap(const SpecGateOptions& o, int64_t decoding_sequences) {
  if (decoding_sequences <= 0) return 0;
  return static_cast<int>(std::max<int64_t>(0, o.max_rows_per_step / decoding_sequences - 1));
}

StepCostModel::StepCostModel(const SpecGateOptions& options, double forgetting)
    : prior_(options.row_cost), fixed_(options.fixed_row_cost), forget_(forgetting) {}

void StepCostModel::record(int64_t rows, double seconds) {
  if (rows <= 0 || !(seconds > 0)) return;
  ++n_;
  if (rows == 1) {
    t1_ = have_t1_ ? 0.9 * t1_ + 0.1 * seconds : seconds;
    have_t1_ = true;
  } else {
    const double x = static_cast<double>(rows), y = seconds;
    sw_ = forget_ * sw_ + 1;
    sx_ = forget_ * sx_ + x;
    sy_ = forget_ * sy_ + y;
    sxx_ = forget_ * sxx_ + x * x;
    sxy_ = forget_ * sxy_ + x * y;
  }
  refit();
}

void StepCostModel::refit() {
  if (sw_ <= 0) return;
  double slope, intercept;
  const double var = sw_ * sxx_ - sx_ * sx_;
  if (var > 0.02 * sw_ * sw_) {
    // The multi-row steps vary enough in rows to tell slope from intercept.
    slope = (sw_ * sxy_ - sx_ * sy_) / var;
    intercept = (sy_ - slope * sx_) / sw_;
  } else if (have_t1_) {
    // One row count only: the line through the one-row time and their mean (no jump visible).
    const double mx = sx_ / sw_, my = sy_ / sw_;
    slope = (my - t1_) / (mx - 1);
    intercept = t1_ - slope;
  } else {
    return;
  }
  c1_ = std::max(slope, 0.0);
  c0_ = std::max(intercept, 0.0);
  fitted_ = c0_ + c1_ > 0;
}

double StepCostModel::row_cost(int64_t batch) const {
  if (fixed_ >= 0) return fixed_;
  const double b = static_cast<double>(std::max<int64_t>(batch, 1));
  double c = prior_;
  if (fitted_ && b == 1 && have_t1_) c = c1_ / t1_;
  else if (fitted_) c = c1_ * b / (c0_ + c1_ * b);
  else if (b > 1) c = prior_ * b / (1 + prior_ * (b - 1));  // the prior as c1 / (c0 + c1) at B = 1
  return std::clamp(c, 0.005, 1.0);
}

double StepCostModel::jump_cost(int64_t batch) const {
  if (fixed_ >= 0 || batch > 1 || !fitted_ || !have_t1_) return 0.0;
  return std::clamp((c0_ + c1_ - t1_) / t1_, 0.0, 10.0);
}

SpecGate::SpecGate(SpecGateOptions options)
    : o_(options),
      accept_{options.initial_accept, options.initial_accept},
      next_cooldown_(options.initial_cooldown),
      shadow_needed_(options.shadow_reopen) {
  if (!(o_.row_cost >= 0) || !(o_.ema_weight > 0 && o_.ema_weight <= 1) ||
      !(o_.initial_accept >= 0 && o_.initial_accept <= 1) || o_.initial_cooldown < 1 ||
      o_.max_cooldown < o_.initial_cooldown || !(o_.min_gain >= 1) || o_.shadow_reopen < 1)
    fail("SpecGateOptions: row_cost must be >= 0, ema_weight in (0, 1], initial_accept in [0, 1], "
         "1 <= initial_cooldown <= max_cooldown, min_gain >= 1 and shadow_reopen >= 1");
}

int SpecGate::best_length(double a, double row_cost, int max_draft, double jump_cost, double min_gain) {
  int best = 0;
  double best_ratio = min_gain, tokens = 1.0, term = 1.0;
  for (int j = 1; j <= max_draft; ++j) {
    term *= a;
    tokens += term;
    const double ratio = tokens / (1.0 + jump_cost + row_cost * j);
    if (ratio > best_ratio * (1 + 1e-9)) {
      best_ratio = ratio;
      best = j;
    }
  }
  return best;
}

int SpecGate::allowed(int max_draft, double row_cost, double jump_cost) {
  if (max_draft <= 0) return 0;
  if (row_cost < 0) row_cost = o_.row_cost;
  if (cooldown_left_ > 0) {
    if (--cooldown_left_ > 0) return 0;
    accept_[0] = accept_[1] = o_.initial_accept;  // reopen: probe with an optimistic estimate
    hot_ = false;
    probing_ = true;
  }
  const int j = best_length(accept_[hot_], row_cost, max_draft, jump_cost, o_.min_gain);
  if (j > 0) return j;
  shadow_hits_ = 0;
  cooldown_left_ = next_cooldown_;
  next_cooldown_ = std::min(next_cooldown_ * 2, o_.max_cooldown);
  ++times_closed_;
  return 0;
}

void SpecGate::shadow(bool hit) {
  if (cooldown_left_ == 0) return;
  shadow_hits_ = hit ? shadow_hits_ + 1 : 0;
  if (shadow_hits_ < shadow_needed_) return;
  // The text has turned predictable: probe now, optimistic, and forget the long cooldown.
  shadow_hits_ = 0;
  cooldown_left_ = 0;
  next_cooldown_ = o_.initial_cooldown;
  accept_[0] = accept_[1] = o_.initial_accept;
  hot_ = false;
  probing_ = true;
  shadow_probe_ = true;
}

void SpecGate::record(int drafted, int accepted) {
  if (drafted <= 0) return;
  // One geometric trial per accepted token, plus the failure that cut the draft (if it was cut).
  const double trials = accepted + (accepted < drafted ? 1 : 0);
  const double observed = accepted / trials;
  if (probing_) {
    accept_[0] = accept_[1] = observed;  // a probe's evidence replaces the optimistic guesses
    probing_ = false;
    if (observed >= 0.5) {
      next_cooldown_ = o_.initial_cooldown;
      shadow_needed_ = o_.shadow_reopen;
    } else if (shadow_probe_) {
      shadow_needed_ = std::min(shadow_needed_ * 2, 16 * o_.shadow_reopen);
    }
    shadow_probe_ = false;
  } else {
    double& a = accept_[hot_];
    a = (1 - o_.ema_weight) * a + o_.ema_weight * observed;
  }
  hot_ = accepted == drafted;
}

}  // namespace ax
