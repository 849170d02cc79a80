#include "model/config.h"

#include <cmath>

#include "util/error.h"

namespace ax {

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::Silu: return "silu";
    case Activation::GeluTanh: return "gelu_pytorch_tanh";
    case Activation::SiluClamped: return "silu (clamped, gpt-oss)";
  }
  return "?";
}

std::vector<int64_t> ModelConfig::layer_windows() const {
  std::vector<int64_t> w;
  for (const LayerConfig& l : layers) w.push_back(l.window);
  return w;
}

void MoeConfig::validate(const std::string& where) const {
  if (num_experts <= 0 || top_k <= 0 || top_k > num_experts || expert_intermediate <= 0)
    fail("{}: a mixture of {} experts, {} per token, of width {} is not valid", where, num_experts, top_k,
         expert_intermediate);
  if (shared_intermediate < 0) fail("{}: the shared expert's width {} is negative", where, shared_intermediate);
  if (n_group < 1 || num_experts % n_group != 0 || topk_group < 1 || topk_group > n_group)
    fail("{}: {} experts cannot be cut into {} groups choosing {}", where, num_experts, n_group, topk_group);
}

float ModelConfig::attention_scale() const {
  return attn_scale > 0 ? attn_scale : 1.0f / std::sqrt(static_cast<float>(head_dim));
}

}  // namespace ax
