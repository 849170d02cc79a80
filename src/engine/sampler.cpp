#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "util/error.h"

namespace ax {
namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

void validate(const SamplingParams& p, int64_t vocab_size) {
  if (!(p.temperature >= 0.0f) || !std::isfinite(p.temperature))
    fail("sampling: temperature {} must be a finite number >= 0", p.temperature);
  if (p.top_k < 0) fail("sampling: top_k {} must be >= 0 (0 turns it off)", p.top_k);
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) fail("sampling: top_p {} must be in (0, 1]", p.top_p);
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) fail("sampling: min_p {} must be in [0, 1]", p.min_p);
  if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty))
    fail("sampling: repetition_penalty {} must be a finite number > 0", p.repetition_penalty);
  if (!std::isfinite(p.presence_penalty)) fail("sampling: presence_penalty must be finite");
  if (!std::isfinite(p.frequency_penalty)) fail("sampling: frequency_penalty must be finite");
  for (const auto& [id, bias] : p.logit_bias) {
    if (id < 0 || id >= vocab_size) fail("sampling: logit_bias names token {}, outside the vocabulary of {}", id, vocab_size);
    if (std::isnan(bias)) fail("sampling: logit_bias for token {} is NaN", id);
  }
}

Rng::Rng(uint64_t seed) {
  uint64_t x = seed;
  for (auto& s : s_) s = splitmix64(x);
}

uint64_t Rng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

Sampler::Sampler(const SamplingParams& params, int64_t vocab_size)
    : params_(params), vocab_(vocab_size), rng_(params.seed) {
  if (vocab_size <= 0) fail("sampling: vocabulary size {} must be positive", vocab_size);
  validate(params_, vocab_size);
  work_.resize(vocab_);
  probs_.resize(vocab_);
}

void Sampler::add_context(std::span<const int32_t> tokens) {
  for (int32_t t : tokens) ++seen_[t];
}

void Sampler::accept(int32_t token) {
  ++seen_[token];
  ++generated_[token];
}

const std::vector<float>& Sampler::distribution(const float* logits) {
  std::copy_n(logits, vocab_, work_.begin());
  auto in_vocab = [&](int32_t id) { return id >= 0 && id < vocab_; };

  // Penalties. Repetition (CTRL-style) over every seen token; presence/frequency (OpenAI-style)
  // over generated tokens.
  if (params_.repetition_penalty != 1.0f)
    for (const auto& [id, n] : seen_)
      if (in_vocab(id)) {
        float& l = work_[id];
        l = l > 0.0f ? l / params_.repetition_penalty : l * params_.repetition_penalty;
      }
  if (params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f)
    for (const auto& [id, n] : generated_)
      if (in_vocab(id)) work_[id] -= params_.presence_penalty + params_.frequency_penalty * static_cast<float>(n);
  for (const auto& [id, bias] : params_.logit_bias) work_[id] += bias;

  std::fill(probs_.begin(), probs_.end(), 0.0f);
  if (params_.temperature == 0.0f) {
    // Greedy: the first maximum (lowest id among ties).
    int32_t best = 0;
    for (int32_t i = 1; i < vocab_; ++i)
      if (work_[i] > work_[best]) best = i;
    probs_[best] = 1.0f;
    return probs_;
  }
  const float inv_t = 1.0f / params_.temperature;
  for (auto& l : work_) l *= inv_t;

  // Candidates, most likely first (ties: lower id first): the top_k when set, else every token.
  auto more_likely = [&](int32_t a, int32_t b) { return work_[a] > work_[b] || (work_[a] == work_[b] && a < b); };
  order_.resize(vocab_);
  std::iota(order_.begin(), order_.end(), 0);
  bool sorted = false;
  if (params_.top_k > 0 && params_.top_k < vocab_) {
    std::partial_sort(order_.begin(), order_.begin() + params_.top_k, order_.end(), more_likely);
    order_.resize(params_.top_k);
    sorted = true;
  }

  // Softmax over the candidates (sums in double so the mass checks below are tight).
  float mx = -std::numeric_limits<float>::infinity();
  for (int32_t id : order_) mx = std::max(mx, work_[id]);
  if (!std::isfinite(mx)) fail("sampling: every candidate token has a logit of -inf or NaN");
  double sum = 0.0;
  for (int32_t id : order_) sum += (probs_[id] = std::exp(work_[id] - mx));
  for (int32_t id : order_) probs_[id] = static_cast<float>(probs_[id] / sum);

  // Top-p: the shortest prefix of the sorted candidates whose mass reaches top_p. Without top-k the
  // candidates are sorted only as far as needed: the k most likely (k = 64, 256, ...) until they
  // hold the mass, which is the same prefix a full sort gives.
  if (params_.top_p < 1.0f) {
    size_t sorted_len = sorted ? order_.size() : 0;
    size_t keep = 0;
    double cum = 0.0;
    for (;;) {
      while (keep < sorted_len && cum < params_.top_p) cum += probs_[order_[keep++]];
      if (cum >= params_.top_p || sorted_len == order_.size()) break;
      const size_t k = std::min(order_.size(), std::max<size_t>(64, 4 * sorted_len));
      std::partial_sort(order_.begin() + sorted_len, order_.begin() + k, order_.end(), more_likely);
      sorted_len = k;
    }
    keep = std::max<size_t>(keep, 1);
    for (size_t i = keep; i < order_.size(); ++i) probs_[order_[i]] = 0.0f;
    order_.resize(keep);
  }
  // Min-p: drop what is less likely than min_p times the most likely token.
  if (params_.min_p > 0.0f) {
    float pmax = 0.0f;
    for (int32_t id : order_) pmax = std::max(pmax, probs_[id]);
    const float threshold = params_.min_p * pmax;
    std::erase_if(order_, [&](int32_t id) {
      if (probs_[id] >= threshold) return false;
      probs_[id] = 0.0f;
      return true;
    });
  }
  // Renormalise what survived the filters.
  double kept = 0.0;
  for (int32_t id : order_) kept += probs_[id];
  for (int32_t id : order_) probs_[id] = static_cast<float>(probs_[id] / kept);
  return probs_;
}

int32_t Sampler::pick(double u) const {
  double total = 0.0;
  for (float p : probs_) total += p;
  const double target = u * total;
  double cum = 0.0;
  int32_t last = -1;
  for (int32_t i = 0; i < vocab_; ++i) {
    if (probs_[i] <= 0.0f) continue;
    cum += probs_[i];
    last = i;
    if (target < cum) return i;
  }
  return last;  // u rounding past the last nonzero interval
}

int32_t Sampler::sample(const float* logits) {
  distribution(logits);
  if (params_.temperature == 0.0f) return pick(0.0);
  return pick(rng_.uniform());
}

}  // namespace ax
