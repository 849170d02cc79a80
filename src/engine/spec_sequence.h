#pragma once
// One request's speculation state: its n-gram drafter (fed the prompt and every produced token),
// its accept-rate gate and its counters. The engine asks it for a draft each decode step,
// schedules [last, d1..dj] for the sequence, verifies the logits rows with verify_draft(), and
// reports back what was accepted.
#include <cstdint>
#include <span>
#include <vector>

#include "engine/ngram_drafter.h"
#include "engine/spec_gate.h"
#include "engine/spec_metrics.h"
#include "engine/spec_params.h"

namespace ax {

class SpecSequence {
 public:
  // Throws ax::Error naming max_draft when it is outside [1, SpeculationParams::kMaxMaxDraft].
  SpecSequence(const SpeculationParams& params, std::span<const int32_t> prompt,
               const SpecGateOptions& gate = {}, const NgramDraftOptions& drafter = {});

  // The draft for this step (empty: decode one token as usual). cap bounds its length: the
  // batch's row budget and the tokens the request may still produce minus one. row_cost: the
  // extra-row cost now (StepCostModel::row_cost; < 0 uses the gate's prior) and jump_cost the
  // extra cost of a step's first draft row (StepCostModel::jump_cost).
  const std::vector<int32_t>& propose(int cap, double row_cost = -1, double jump_cost = 0);
  // Tokens that became part of the sequence (prompt excluded; accepted drafts, corrections,
  // plain decode tokens), in order.
  void append(std::span<const int32_t> tokens) {
    if (tokens.empty() || !params_.enabled) return;
    check_shadow(tokens[0]);
    drafter_.append(tokens);
  }
  void append(int32_t token) {
    if (!params_.enabled) return;
    check_shadow(token);
    drafter_.append(token);
  }
  // After verifying the last proposed draft: how many of its tokens the model accepted.
  void verified(int drafted, int accepted);

  bool enabled() const { return params_.enabled; }
  const SpeculationParams& params() const { return params_; }
  const SpecMetrics& metrics() const { return metrics_; }
  // The counts added since the last call (the engine sums them into its metrics snapshot).
  SpecMetrics take_unreported();
  const NgramDrafter& drafter() const { return drafter_; }
  const SpecGate& gate() const { return gate_; }

 private:
  SpeculationParams params_;
  NgramDrafter drafter_;
  SpecGate gate_;
  SpecMetrics metrics_;
  SpecMetrics reported_;
  std::vector<int32_t> draft_;
  std::vector<int32_t> shadow_;  // while the gate is closed: the drafter's guess for the next token

  void check_shadow(int32_t produced) {
    if (!shadow_.empty()) gate_.shadow(shadow_[0] == produced);
    shadow_.clear();
  }
};

void validate(const SpeculationParams& p);

}  // namespace ax
