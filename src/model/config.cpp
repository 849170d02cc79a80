#include "model/config.h"

#include <cmath>

namespace ax {

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::Silu: return "silu";
    case Activation::GeluTanh: return "gelu_pytorch_tanh";
  }
  return "?";
}

std::vector<int64_t> ModelConfig::layer_windows() const {
  std::vector<int64_t> w;
  for (const LayerConfig& l : layers) w.push_back(l.window);
  return w;
}

float ModelConfig::attention_scale() const {
  return attn_scale > 0 ? attn_scale : 1.0f / std::sqrt(static_cast<float>(head_dim));
}

}  // namespace ax
