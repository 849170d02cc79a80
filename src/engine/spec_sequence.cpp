#include "engine/spec_sequence.h"

#include <algorithm>

#include "util/error.h"

namespace ax {

void validate(const SpeculationParams& p) {
  if (p.enabled && (p.max_draft < 1 || p.max_draft > SpeculationParams::kMaxMaxDraft))
    fail("speculation.max_draft must be between 1 and {}, got {}", SpeculationParams::kMaxMaxDraft,
         p.max_draft);
}

SpecSequence::SpecSequence(const SpeculationParams& params, std::span<const int32_t> prompt,
                           const SpecGateOptions& gate, const NgramDraftOptions& drafter)
    : params_(params), drafter_(drafter), gate_(gate) {
  validate(params_);
  if (params_.enabled) drafter_.reset(prompt);
}

const std::vector<int32_t>& SpecSequence::propose(int cap, double row_cost, double jump_cost) {
  draft_.clear();
  if (!params_.enabled) return draft_;
  const int want = std::min(params_.max_draft, std::max(cap, 0));
  if (cap < params_.max_draft) ++metrics_.batch_capped;
  const int64_t closed_before = gate_.times_closed();
  const int allowed = gate_.allowed(want, row_cost, jump_cost);
  metrics_.gate_closures += gate_.times_closed() - closed_before;
  shadow_.clear();
  if (allowed > 0) {
    drafter_.draft(allowed, draft_);
  } else if (want > 0 && !gate_.open()) {
    drafter_.draft(1, shadow_);  // checked against the token this step produces (append)
  }
  return draft_;
}

SpecMetrics SpecSequence::take_unreported() {
  SpecMetrics d;
  d.verify_steps = metrics_.verify_steps - reported_.verify_steps;
  d.drafted_tokens = metrics_.drafted_tokens - reported_.drafted_tokens;
  d.accepted_tokens = metrics_.accepted_tokens - reported_.accepted_tokens;
  d.gate_closures = metrics_.gate_closures - reported_.gate_closures;
  d.batch_capped = metrics_.batch_capped - reported_.batch_capped;
  reported_ = metrics_;
  return d;
}

void SpecSequence::verified(int drafted, int accepted) {
  if (drafted <= 0) return;
  drafter_.verified(drafted, accepted);
  gate_.record(drafted, accepted);
  ++metrics_.verify_steps;
  metrics_.drafted_tokens += drafted;
  metrics_.accepted_tokens += accepted;
}

}  // namespace ax
