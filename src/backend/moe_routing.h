#pragma once
// Mixture-of-experts routing, the same rule on every backend (host code: the backends bring the
// router's logits to the host and route there).
#include <cstdint>
#include <span>

namespace ax {

enum class MoeRouting {
  // softmax over all experts, keep the top_k (Qwen3-MoE, Mixtral, Gemma 4's router)
  SoftmaxTopK,
  // sigmoid scores; experts chosen by score + selection_bias within the topk_group best of n_group
  // groups (a group's worth: the sum of its two best biased scores); weights are the chosen
  // experts' unbiased sigmoid scores (DeepSeek-V3, GLM-4.5)
  SigmoidGroupTopK,
  // the top_k logits, then a softmax over those alone (gpt-oss)
  TopKSoftmax,
};

struct MoeRoutingParams {
  MoeRouting kind = MoeRouting::SoftmaxTopK;
  int64_t top_k = 0;
  bool norm_topk_prob = false;  // renormalise the kept weights to sum 1
  float routed_scaling = 1.0f;  // then multiply them by this
  int64_t n_group = 1, topk_group = 1;
  std::span<const float> selection_bias;  // SigmoidGroupTopK: one per expert (may be empty)
  // One factor per expert (may be empty): a chosen expert's weight is multiplied by its own, after
  // everything above (Gemma 4's router.per_expert_scale).
  std::span<const float> expert_scale;
};

// One token: from its router logits [num_experts], top_k experts in ascending order and their
// weights. Ties go to the lower index.
void route_experts(const float* logits, int64_t num_experts, const MoeRoutingParams& p, int32_t* experts,
                   float* weights);

}  // namespace ax
