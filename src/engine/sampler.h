#pragma once
// Token sampling for one request: penalties, logit bias, temperature, top-k, top-p, min-p, and a
// per-request random generator, so the tokens a request gets depend only on its own logits and
// seed, never on what else was batched with it.
//
// Order of the transforms (each on the output of the one before):
//   repetition / presence / frequency penalties -> logit bias -> temperature -> top-k -> softmax
//   -> top-p -> min-p -> draw
// The final probability vector p (zeros for filtered tokens, summing to 1) is kept: speculative
// decoding's exact accept rule needs p(x). temperature == 0 is greedy: p is one-hot at the largest
// (penalised, biased) logit, ties going to the lowest id.
//
// Drawing: one uniform u in [0, 1) from the request's generator per token, mapped through p's
// cumulative sum in token-id order (inverse CDF). Any code that couples to plain decoding (the
// speculative verifier) can therefore reproduce a draw from p and u alone.
#include <cstdint>
#include <map>
#include <span>
#include <unordered_map>
#include <vector>

namespace ax {

struct SamplingParams {
  float temperature = 1.0f;         // 0: greedy
  int32_t top_k = 0;                // keep the k most likely tokens; 0: off
  float top_p = 1.0f;               // keep the smallest most-likely set with mass >= top_p; 1: off
  float min_p = 0.0f;               // drop tokens with p < min_p * max p; 0: off
  float repetition_penalty = 1.0f;  // seen tokens: logit / r if positive, logit * r if not; 1: off
  float presence_penalty = 0.0f;    // minus this once for every token already generated
  float frequency_penalty = 0.0f;   // minus this times the count of each generated token
  std::map<int32_t, float> logit_bias;  // added to the logit of each listed token
  uint64_t seed = 0;
};

// Throws ax::Error naming the parameter when a value is out of range (e.g. top_p outside (0, 1]).
void validate(const SamplingParams& p, int64_t vocab_size);

// xoshiro256** seeded through splitmix64: small, fast, and the same sequence on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  double uniform();  // [0, 1) with 53 random bits

 private:
  uint64_t s_[4];
};

class Sampler {
 public:
  Sampler(const SamplingParams& params, int64_t vocab_size);

  // Tokens the repetition penalty counts as seen (typically the prompt). Generated tokens are
  // added by accept().
  void add_context(std::span<const int32_t> tokens);
  // Records a token that became part of the output (penalties use it from the next step on).
  void accept(int32_t token);

  // Applies every transform to logits[vocab] and returns the final distribution p. The reference
  // stays valid until the next call.
  const std::vector<float>& distribution(const float* logits);
  // The token for uniform u under the last distribution (inverse CDF in id order).
  int32_t pick(double u) const;
  // distribution() then pick() with the next draw of the request's generator; greedy needs no
  // draw and consumes none.
  int32_t sample(const float* logits);

  const SamplingParams& params() const { return params_; }
  const std::vector<float>& probabilities() const { return probs_; }
  Rng& rng() { return rng_; }

 private:
  SamplingParams params_;
  int64_t vocab_;
  Rng rng_;
  std::unordered_map<int32_t, int64_t> seen_;       // repetition penalty: context + output
  std::unordered_map<int32_t, int64_t> generated_;  // presence / frequency: output counts
  std::vector<float> work_;                         // [vocab] logits being transformed
  std::vector<int32_t> order_;                      // candidate ids, most likely first
  std::vector<float> probs_;                        // [vocab] the final p
};

}  // namespace ax
