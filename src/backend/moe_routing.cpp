#include "backend/moe_routing.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace ax {

void route_softmax_topk(const float* logits, int64_t num_experts, int64_t top_k, bool norm_topk_prob,
                        float routed_scaling, int32_t* experts, float* weights) {
  // softmax in float32, max-subtracted (as torch.softmax computes it)
  std::vector<float> p(logits, logits + num_experts);
  const float mx = *std::max_element(p.begin(), p.end());
  float sum = 0.0f;
  for (float& v : p) sum += (v = std::exp(v - mx));
  for (float& v : p) v /= sum;
  std::vector<int32_t> order(static_cast<size_t>(num_experts));
  for (int32_t e = 0; e < num_experts; ++e) order[e] = e;
  std::partial_sort(order.begin(), order.begin() + top_k, order.end(),
                    [&](int32_t a, int32_t b) { return p[a] != p[b] ? p[a] > p[b] : a < b; });
  std::sort(order.begin(), order.begin() + top_k);
  float kept = 0.0f;
  for (int64_t i = 0; i < top_k; ++i) kept += p[order[i]];
  for (int64_t i = 0; i < top_k; ++i) {
    experts[i] = order[i];
    weights[i] = (norm_topk_prob ? p[order[i]] / kept : p[order[i]]) * routed_scaling;
  }
}

}  // namespace ax
