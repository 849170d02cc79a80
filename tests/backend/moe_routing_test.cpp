// Mixture-of-experts routing rules against hand-computed cases (backend/moe_routing.h).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backend/moe_routing.h"
#include "util/error.h"

namespace ax {
namespace {

struct Routed {
  std::vector<int32_t> experts;
  std::vector<float> weights;
};

Routed route(const std::vector<float>& logits, const MoeRoutingParams& p) {
  Routed r{std::vector<int32_t>(p.top_k), std::vector<float>(p.top_k)};
  route_experts(logits.data(), static_cast<int64_t>(logits.size()), p, r.experts.data(), r.weights.data());
  return r;
}

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

TEST(MoeRouting, SoftmaxTopKKeepsTheLargestTiesToTheLowerIndex) {
  MoeRoutingParams p;
  p.top_k = 2;
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 3.0f};
  Routed r = route(logits, p);
  EXPECT_EQ(r.experts, (std::vector<int32_t>{1, 3}));
  const double z = std::exp(1.0) + 2 * std::exp(3.0) + std::exp(2.0);
  EXPECT_NEAR(r.weights[0], std::exp(3.0) / z, 1e-6);
  EXPECT_NEAR(r.weights[1], std::exp(3.0) / z, 1e-6);
  p.norm_topk_prob = true;
  p.routed_scaling = 2.0f;
  r = route(logits, p);
  EXPECT_NEAR(r.weights[0], 1.0, 1e-6);  // 0.5 each, times 2
  EXPECT_NEAR(r.weights[1], 1.0, 1e-6);
  p.top_k = 3;
  EXPECT_EQ(route({0.0f, 0.0f, 0.0f, 0.0f}, p).experts, (std::vector<int32_t>{0, 1, 2}));
}

TEST(MoeRouting, ExpertScalesMultiplyTheChosenWeightsLast) {
  // Gemma 4: softmax, top-2, renormalised, then each chosen expert's own factor; the factors do not
  // change which experts are chosen.
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 0.0f};
  const std::vector<float> scale = {5.0f, 0.5f, 3.0f, 7.0f};
  MoeRoutingParams p;
  p.top_k = 2;
  p.norm_topk_prob = true;
  p.expert_scale = scale;
  Routed r = route(logits, p);
  EXPECT_EQ(r.experts, (std::vector<int32_t>{1, 2}));
  const double w1 = std::exp(3.0) / (std::exp(3.0) + std::exp(2.0));
  EXPECT_NEAR(r.weights[0], w1 * 0.5, 1e-6);
  EXPECT_NEAR(r.weights[1], (1.0 - w1) * 3.0, 1e-6);
  const std::vector<float> short_scale = {1.0f, 2.0f};
  p.expert_scale = short_scale;
  EXPECT_THROW(route(logits, p), Error);
}

TEST(MoeRouting, SigmoidGroupsChooseByBiasedScoresAndWeighByUnbiasedOnes) {
  // Groups {0,1} and {2,3}. The bias lifts expert 2, so group {2,3} wins (its best two biased
  // scores sum higher) although expert 0 has the largest logit; experts outside the chosen group
  // count as 0 for the choice.
  const std::vector<float> logits = {2.0f, -1.0f, 0.5f, 0.4f};
  const std::vector<float> bias = {0.0f, 0.0f, 0.6f, 0.2f};
  MoeRoutingParams p;
  p.kind = MoeRouting::SigmoidGroupTopK;
  p.top_k = 2;
  p.n_group = 2;
  p.topk_group = 1;
  p.selection_bias = bias;
  Routed r = route(logits, p);
  EXPECT_EQ(r.experts, (std::vector<int32_t>{2, 3}));
  EXPECT_FLOAT_EQ(r.weights[0], sigmoid(0.5f));  // the unbiased scores
  EXPECT_FLOAT_EQ(r.weights[1], sigmoid(0.4f));
  p.norm_topk_prob = true;
  p.routed_scaling = 2.5f;
  r = route(logits, p);
  const float sum = sigmoid(0.5f) + sigmoid(0.4f);
  EXPECT_NEAR(r.weights[0], sigmoid(0.5f) / sum * 2.5f, 1e-6);
  // Without groups the largest biased scores win: experts 0 (0.88) and 2 (0.62 + 0.6), not 3 (0.60 + 0.2).
  p.n_group = 1;
  EXPECT_EQ(route(logits, p).experts, (std::vector<int32_t>{0, 2}));
  p.n_group = 3;  // 4 experts do not split into 3 groups
  EXPECT_THROW(route(logits, p), Error);
}

TEST(MoeRouting, TopKSoftmaxNormalisesOverTheChosenOnly) {
  MoeRoutingParams p;
  p.kind = MoeRouting::TopKSoftmax;
  p.top_k = 2;
  const Routed r = route({0.1f, 2.0f, -3.0f, 1.0f}, p);
  EXPECT_EQ(r.experts, (std::vector<int32_t>{1, 3}));
  EXPECT_NEAR(r.weights[0], std::exp(2.0) / (std::exp(2.0) + std::exp(1.0)), 1e-6);
  EXPECT_NEAR(r.weights[0] + r.weights[1], 1.0, 1e-6);
}

}  // namespace
}  // namespace ax
