#pragma once
// When not to draft. Verifying j draft tokens adds j rows to a forward pass; that costs little
// while the pass is bound by reading the weights (small batches) and costs in proportion once it
// is bound by arithmetic (full batches). Two rules decide how many tokens a sequence may draft:
//
// 1. Per request, an accept-rate gate. It tracks the conditional acceptance a (the chance a draft
//    token is accepted given the one before it was), as an exponential moving average of
//    accepted / (accepted + 1 if the draft was cut short), separately for drafts that follow a
//    fully accepted draft ("hot": the text is being copied or is looping) and for the others
//    ("cold": a fresh match, or right after the model left the copied text). On repeated text the
//    hot estimate runs near 1 and drafts stay long, while fresh matches that keep failing get
//    short drafts or none. Closed, it waits `cooldown` steps (doubling after each failed probe, up
//    to max_cooldown) and then probes again with an optimistic estimate; it also reopens at once
//    when the drafter's predictions, checked for free against the tokens plain decoding produced
//    ("shadow" drafts: nothing is verified), came true shadow_reopen steps in a row — a long
//    cooldown then no longer misses the text turning repetitive. A reopening whose probe fails
//    doubles the run of correct guesses the next one needs (up to 16 x shadow_reopen), so text
//    that only repeats by chance does not keep reopening it. With each extra draft row costing
//    `row_cost` of a one-token step, drafting j tokens yields (1 + a + ... + a^j) tokens for
//    (1 + row_cost * j) of the time; the gate drafts the j that maximises that ratio and closes
//    when no j beats plain decoding. Closed, it waits `cooldown` steps (doubling after each failed
//    probe, up to max_cooldown) and then probes again with an optimistic estimate.
// 2. The row cost is measured, not assumed: StepCostModel fits step time = c0 + c1 * rows online
//    (least squares with forgetting). On a tiny model rows cost nearly as much as whole steps
//    (compute-bound), on a large one a few rows are almost free (weight-bound); the same gate is
//    right for both. With B sequences decoding in a step, one more row costs c1 of a step whose
//    time is shared by B tokens: row_cost = c1 * B / (c0 + c1 * B), which rises towards 1 as the
//    batch fills, so drafting backs off smoothly and stops where it would cost throughput.
// 3. Per step, a hard row budget: all sequences together verify at most max_rows_per_step rows,
//    so each of B decoding sequences drafts at most max_rows_per_step / B - 1 tokens.
#include <cstdint>

namespace ax {

struct SpecGateOptions {
  double row_cost = 0.3;         // prior for the extra-row cost before StepCostModel has data
  double ema_weight = 0.3;       // weight of the newest verify step in the average
  double initial_accept = 0.9;   // estimate before the first verify and at every probe
  int initial_cooldown = 8;      // steps without drafting after the gate first closes
  int max_cooldown = 256;
  int max_rows_per_step = 32;    // verify rows of all sequences in one step
  int shadow_reopen = 3;         // closed: reopen after this many correct shadow predictions in a row
  double fixed_row_cost = -1;    // >= 0: use this row cost instead of measuring (tests, studies)
  // Draft only when the cost model promises at least this speed-up: timings are noisy and a
  // break-even draft is a coin flip that can only lose to measurement error.
  double min_gain = 1.05;
};

// Draft tokens each of `decoding_sequences` may propose under the per-step row budget.
int batch_draft_cap(const SpecGateOptions& o, int64_t decoding_sequences);

// Online fit of forward-pass time against rows in the pass. Steps of two or more rows follow a
// line t = c0 + c1 * rows (least squares with forgetting); a one-row step is tracked on its own
// (t1), because a kernel may run one row on a cheaper path (a tiny model at one row can cost a
// third of its two-row step), and then the first draft row costs a jump on top of c1.
class StepCostModel {
 public:
  explicit StepCostModel(const SpecGateOptions& options = {}, double forgetting = 0.98);
  void record(int64_t rows, double seconds);
  // The cost of one more row relative to a step's time per token with `batch` sequences decoding:
  // c1 / t1 at batch 1, c1 * batch / (c0 + c1 * batch) above, in [0.005, 1]. The prior until
  // enough has been seen; the options' fixed_row_cost when that is set.
  double row_cost(int64_t batch = 1) const;
  // The extra cost of going from one row to two beyond row_cost (batch 1 only; 0 otherwise):
  // (c0 + c1 - t1) / t1, at least 0.
  double jump_cost(int64_t batch = 1) const;
  int64_t observations() const { return n_; }

 private:
  void refit();

  double prior_, fixed_;
  double forget_;
  double sw_ = 0, sx_ = 0, sy_ = 0, sxx_ = 0, sxy_ = 0;  // steps of >= 2 rows
  double t1_ = 0;                                        // one-row steps (moving average)
  bool have_t1_ = false;
  double c0_ = 0, c1_ = 0;
  bool fitted_ = false;
  int64_t n_ = 0;
};

class SpecGate {
 public:
  explicit SpecGate(SpecGateOptions options = {});

  // Called once per decode step of the sequence (whether or not the drafter found a match):
  // the number of tokens it may draft now, at most max_draft; 0 while the gate is closed.
  // row_cost < 0: the options' prior; jump_cost: StepCostModel::jump_cost.
  int allowed(int max_draft, double row_cost = -1, double jump_cost = 0);
  // Called after each verify step that drafted `drafted` > 0 tokens.
  void record(int drafted, int accepted);
  // While closed: whether the drafter's one-token prediction for this step (not verified) was
  // the token plain decoding produced.
  void shadow(bool hit);

  bool open() const { return cooldown_left_ == 0; }
  // The estimate the next draft will use (hot or cold, see above).
  double accept_estimate() const { return accept_[hot_]; }
  int64_t times_closed() const { return times_closed_; }

  // The draft length maximising (1 + a + ... + a^j) / (1 + jump_cost + row_cost * j), 0 if none
  // beats min_gain.
  static int best_length(double a, double row_cost, int max_draft, double jump_cost = 0,
                         double min_gain = 1.0);

 private:
  SpecGateOptions o_;
  double accept_[2];   // [cold, hot]
  bool hot_ = false;   // the last draft was accepted whole
  int cooldown_left_ = 0;
  int next_cooldown_;
  bool probing_ = false;
  int shadow_hits_ = 0;    // correct shadow predictions in a row while closed
  int shadow_needed_;      // how many reopen the gate now
  bool shadow_probe_ = false;  // the current probe came from shadow predictions
  int64_t times_closed_ = 0;
};

}  // namespace ax
