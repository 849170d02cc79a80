#pragma once
// Verifying a draft: one forward pass over [last, d1..dk] gives k+1 logit rows; row i is the
// model's distribution for the token after d_i (row 0: after `last`). Accept the longest prefix of
// the draft the model agrees with and emit one more token from the first row not consumed
// (the correction after a rejection, or the bonus token after row k).
//
// The exact rule for a point-mass draft x against the model's final distribution p (after
// temperature, penalties, top-k/top-p/min-p): accept x with probability p(x); on rejection emit a
// token drawn from p with x removed and renormalised. The output then has exactly the law of p.
//
// We realise that rule with the same random draw plain decoding would make at that position:
// y = sample(p, u); accept iff y == x, else emit y. P(y == x) = p(x), and given y != x, y is
// distributed as p over the other tokens renormalised — the rule above, coupled to plain
// decoding. So the request's RNG is consumed exactly as without speculation (one pick per emitted
// token, in order), which makes sampled output token-for-token identical to plain decoding with
// the same seed, whether or not (and how much) a step drafted. Greedy is the u-free special case.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace ax {

struct VerifyOutcome {
  int accepted = 0;              // draft tokens kept (0..k)
  std::vector<int32_t> emitted;  // d1..d_accepted then the correction/bonus: accepted + 1 tokens
};

// pick(row, produced) is the model's own choice at verify row `row` (0..k), given the tokens
// `produced` so far in this step (d1..d_row, for penalties); it consumes the request's RNG exactly
// as a plain decode step would. Calls are made in row order and stop at the first disagreement,
// so the RNG is advanced once per emitted token.
using PickToken = std::function<int32_t(int row, std::span<const int32_t> produced)>;

VerifyOutcome verify_draft(std::span<const int32_t> draft, const PickToken& pick);

class Sampler;
// verify_draft with the request's own sampler: row i is logits[i * vocab, (i + 1) * vocab),
// rows 0..draft.size(). Each emitted token is sampled exactly as a plain decode step samples it
// and then recorded with sampler.accept() (so penalties see accepted drafts at the next row);
// callers must not accept the emitted tokens again.
VerifyOutcome verify_with_sampler(std::span<const int32_t> draft, const float* logits,
                                  int64_t vocab, Sampler& sampler);

// ---- The rule at the level of one probability vector (used by verify's statistical tests and by
// samplers that pick by inverse CDF). ----

// The token whose CDF interval holds u in [0, 1): tokens in id order, zero-probability tokens
// never chosen. p need not be normalised (its sum is used).
int32_t sample_inverse_cdf(std::span<const float> p, double u);

struct PointMassVerdict {
  bool accepted;
  int32_t token;  // x when accepted, else the replacement
};
// Accept-or-replace for draft token x against p using one uniform u (the coupled form above).
PointMassVerdict verify_point_mass(std::span<const float> p, int32_t x, double u);

}  // namespace ax
