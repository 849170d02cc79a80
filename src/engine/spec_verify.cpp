#include "engine/spec_verify.h"

#include "engine/sampler.h"
#include "util/error.h"

namespace ax {

VerifyOutcome verify_draft(std::span<const int32_t> draft, const PickToken& pick) {
  VerifyOutcome out;
  out.emitted.reserve(draft.size() + 1);
  const int k = static_cast<int>(draft.size());
  for (int row = 0; row <= k; ++row) {
    const int32_t y = pick(row, std::span<const int32_t>(out.emitted));
    out.emitted.push_back(y);
    if (row == k || y != draft[row]) break;  // bonus token, or the correction
    ++out.accepted;
  }
  return out;
}

VerifyOutcome verify_with_sampler(std::span<const int32_t> draft, const float* logits,
                                  int64_t vocab, Sampler& sampler) {
  return verify_draft(draft, [&](int row, std::span<const int32_t>) {
    const int32_t y = sampler.sample(logits + static_cast<int64_t>(row) * vocab);
    sampler.accept(y);
    return y;
  });
}

int32_t sample_inverse_cdf(std::span<const float> p, double u) {
  if (p.empty()) fail("sample_inverse_cdf: the probability vector is empty");
  double total = 0;
  for (float v : p) total += v;
  if (!(total > 0)) fail("sample_inverse_cdf: the probabilities sum to {}, not a positive number", total);
  const double target = u * total;
  double acc = 0;
  int32_t last_positive = -1;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] <= 0) continue;
    acc += p[i];
    last_positive = static_cast<int32_t>(i);
    if (target < acc) return last_positive;
  }
  return last_positive;  // u * total rounded to the very top: the last token with mass
}

PointMassVerdict verify_point_mass(std::span<const float> p, int32_t x, double u) {
  if (x < 0 || static_cast<size_t>(x) >= p.size())
    fail("verify_point_mass: draft token {} is outside the vocabulary of {}", x, p.size());
  const int32_t y = sample_inverse_cdf(p, u);
  return {y == x, y};
}

}  // namespace ax
