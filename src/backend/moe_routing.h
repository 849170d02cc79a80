#pragma once
// Mixture-of-experts routing, the same rule on every backend (host code).
#include <cstdint>

namespace ax {

// One token: softmax over its router logits [num_experts], the top_k largest (ties to the lower
// index), renormalised to sum 1 when norm_topk_prob, times routed_scaling. experts/weights get
// top_k entries, in ascending expert order.
void route_softmax_topk(const float* logits, int64_t num_experts, int64_t top_k, bool norm_topk_prob,
                        float routed_scaling, int32_t* experts, float* weights);

}  // namespace ax
