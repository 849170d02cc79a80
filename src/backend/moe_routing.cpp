#include "backend/moe_routing.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "util/error.h"

namespace ax {
namespace {

// The k largest of v (ties to the lower index), in ascending index order.
std::vector<int32_t> top_k_indices(const std::vector<float>& v, int64_t k) {
  std::vector<int32_t> order(v.size());
  for (size_t e = 0; e < v.size(); ++e) order[e] = static_cast<int32_t>(e);
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int32_t a, int32_t b) { return v[a] != v[b] ? v[a] > v[b] : a < b; });
  order.resize(static_cast<size_t>(k));
  std::sort(order.begin(), order.end());
  return order;
}

}  // namespace

void route_experts(const float* logits, int64_t E, const MoeRoutingParams& p, int32_t* experts, float* weights) {
  const int64_t k = p.top_k;
  if (k < 1 || k > E) fail("moe routing: top {} of {} experts", k, E);
  std::vector<float> w(static_cast<size_t>(k));
  std::vector<int32_t> chosen;
  switch (p.kind) {
    case MoeRouting::SoftmaxTopK: {
      // softmax in float32, max-subtracted (as torch.softmax computes it)
      std::vector<float> prob(logits, logits + E);
      const float mx = *std::max_element(prob.begin(), prob.end());
      float sum = 0.0f;
      for (float& v : prob) sum += (v = std::exp(v - mx));
      for (float& v : prob) v /= sum;
      chosen = top_k_indices(prob, k);
      for (int64_t i = 0; i < k; ++i) w[i] = prob[chosen[i]];
      break;
    }
    case MoeRouting::SigmoidGroupTopK: {
      if (p.n_group < 1 || E % p.n_group != 0 || p.topk_group < 1 || p.topk_group > p.n_group)
        fail("moe routing: {} experts cannot be cut into {} groups choosing {}", E, p.n_group, p.topk_group);
      if (!p.selection_bias.empty() && static_cast<int64_t>(p.selection_bias.size()) != E)
        fail("moe routing: {} selection biases for {} experts", p.selection_bias.size(), E);
      std::vector<float> score(E), choice(E);
      for (int64_t e = 0; e < E; ++e) {
        score[e] = 1.0f / (1.0f + std::exp(-logits[e]));
        choice[e] = score[e] + (p.selection_bias.empty() ? 0.0f : p.selection_bias[e]);
      }
      const int64_t per = E / p.n_group;
      std::vector<float> group(p.n_group);
      for (int64_t g = 0; g < p.n_group; ++g) {
        std::vector<float> in(choice.begin() + g * per, choice.begin() + (g + 1) * per);
        std::partial_sort(in.begin(), in.begin() + std::min<int64_t>(2, per), in.end(), std::greater<float>());
        group[g] = in[0] + (per > 1 ? in[1] : 0.0f);
      }
      const std::vector<int32_t> groups = top_k_indices(group, p.topk_group);
      // Experts of the other groups score 0 for the choice (as transformers masks them).
      std::vector<float> masked(E, 0.0f);
      for (int32_t g : groups)
        for (int64_t e = g * per; e < (g + 1) * per; ++e) masked[e] = choice[e];
      chosen = top_k_indices(masked, k);
      for (int64_t i = 0; i < k; ++i) w[i] = score[chosen[i]];
      break;
    }
    case MoeRouting::TopKSoftmax: {
      chosen = top_k_indices(std::vector<float>(logits, logits + E), k);
      float mx = -INFINITY;
      for (int32_t e : chosen) mx = std::max(mx, logits[e]);
      float sum = 0.0f;
      for (int64_t i = 0; i < k; ++i) sum += (w[i] = std::exp(logits[chosen[i]] - mx));
      for (float& v : w) v /= sum;
      break;
    }
  }
  if (!p.expert_scale.empty() && static_cast<int64_t>(p.expert_scale.size()) != E)
    fail("moe routing: {} expert scales for {} experts", p.expert_scale.size(), E);
  float sum = 0.0f;
  for (float v : w) sum += v;
  for (int64_t i = 0; i < k; ++i) {
    experts[i] = chosen[i];
    const float v = p.norm_topk_prob ? w[i] / (sum + (p.kind == MoeRouting::SigmoidGroupTopK ? 1e-20f : 0.0f)) : w[i];
    weights[i] = v * p.routed_scaling;
    if (!p.expert_scale.empty()) weights[i] *= p.expert_scale[chosen[i]];
  }
}

}  // namespace ax
