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

void MlaConfig::validate(const std::string& where) const {
  if (kv_lora_rank <= 0 || q_lora_rank < 0 || qk_nope_head_dim <= 0 || qk_rope_head_dim <= 0 ||
      qk_rope_head_dim % 2 != 0 || v_head_dim <= 0)
    fail("{}: latent attention of q rank {}, kv rank {}, head dims {} + {} (RoPE, even) and value {} is not valid",
         where, q_lora_rank, kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim);
}

void GatedDeltaConfig::validate(const std::string& where) const {
  if (num_k_heads <= 0 || num_v_heads <= 0 || num_v_heads % num_k_heads != 0 || k_head_dim <= 0 || v_head_dim <= 0 ||
      conv_kernel < 1)
    fail("{}: gated-delta attention of {} key heads x {}, {} value heads x {} (a multiple of the key heads) and a "
         "conv of {} taps is not valid",
         where, num_k_heads, k_head_dim, num_v_heads, v_head_dim, conv_kernel);
}

int64_t ModelConfig::layer_head_dim(int64_t l) const {
  return l < static_cast<int64_t>(layers.size()) && layers[l].head_dim > 0 ? layers[l].head_dim : head_dim;
}

bool ModelConfig::mixed_head_dims() const {
  for (int64_t l = 0; l < static_cast<int64_t>(layers.size()); ++l)
    if (layer_head_dim(l) != head_dim) return true;
  return false;
}

int64_t ModelConfig::num_attention_layers() const {
  if (layers.empty()) return num_layers;  // no per-layer description: every layer attends
  int64_t n = 0;
  for (const LayerConfig& l : layers) n += l.linear_attention ? 0 : 1;
  return n;
}

int64_t ModelConfig::recurrent_state_floats() const {
  int64_t n = 0;
  for (const LayerConfig& l : layers) n += l.linear_attention ? gated_delta.state_floats() : 0;
  return n;
}

float ModelConfig::attention_scale() const {
  return attn_scale > 0 ? attn_scale : 1.0f / std::sqrt(static_cast<float>(head_dim));
}

}  // namespace ax
