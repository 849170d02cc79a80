#pragma once
// The architecture-neutral description of a model, filled from a Hugging Face config.json or from
// GGUF metadata by the model's architecture (model/architecture.h). Every field the forward pass
// needs is here; nothing downstream reads the files.
#include <cstdint>
#include <string>
#include <vector>

#include "backend/moe_routing.h"

namespace ax {

// How RoPE pairs the dimensions of a head.
//  RotateHalf:    (x[i], x[i + d/2]) — Hugging Face checkpoints, llama.cpp's NEOX mode (Qwen).
//  AdjacentPairs: (x[2i], x[2i+1])  — llama.cpp "normal" mode. llama-architecture GGUFs store the
//                 Q/K rows permuted for it; rotating adjacent pairs of the stored rows gives the
//                 same result as rotate-half on the HF rows, so no weights are copied.
enum class RopeStyle { RotateHalf, AdjacentPairs };

struct RopeConfig {
  float theta = 10000.0f;
  RopeStyle style = RopeStyle::RotateHalf;
  std::string scaling_type = "default";  // "default", "linear", "llama3", "yarn"
  float factor = 1.0f;
  // llama3
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int64_t original_max_position = 0;
  // yarn
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
  float attention_factor = 0.0f;  // 0: derive from factor
  bool yarn_truncate = true;       // floor/ceil the correction range (HF "truncate", default true)
  int rotary_dim = 0;              // dims rotated per head (0: all of head_dim)
};

// The gate activation of a gated MLP: down(act(gate(x)) * up(x)).
enum class Activation {
  Silu,         // SwiGLU (Llama, Qwen, Mistral, Phi-3)
  GeluTanh,     // GeGLU with the tanh approximation of GELU (Gemma)
  SiluClamped,  // gpt-oss: (clamp(up, -7, 7) + 1) * g * sigmoid(1.702 g), g = min(gate, 7)
};
const char* activation_name(Activation a);

// What varies from layer to layer.
struct LayerConfig {
  // Sliding-window attention: query i sees keys j with i - window < j <= i. 0 = full attention.
  int64_t window = 0;
  RopeConfig rope;  // this layer's RoPE (Gemma 3 uses one base for sliding, another for full layers)
  bool moe = false;  // the feed-forward block is a mixture of experts (ModelConfig::moe)
};

// A mixture-of-experts feed-forward block: a router picks top_k of num_experts experts per token,
// each a gated MLP of width expert_intermediate; their outputs are summed with the routing weights
// (backend/moe_routing.h says how each routing picks and weighs), plus the shared expert's output
// where the model has one.
struct MoeConfig {
  int64_t num_experts = 0;
  int64_t top_k = 0;
  int64_t expert_intermediate = 0;
  MoeRouting routing = MoeRouting::SoftmaxTopK;
  // renormalise the kept weights to sum 1 (Qwen3-MoE's released checkpoints, GLM, DeepSeek), then
  // scale them by routed_scaling
  bool norm_topk_prob = false;
  float routed_scaling = 1.0f;
  int64_t n_group = 1, topk_group = 1;  // SigmoidGroupTopK: choose within the topk_group best groups
  // A dense MLP every token goes through besides the routed experts (GLM-4.5, DeepSeek-V3: the
  // n_shared_experts are one MLP of their summed width). 0: none.
  int64_t shared_intermediate = 0;

  // Throws naming `where` when the sizes do not make a mixture.
  void validate(const std::string& where) const;
};

struct ModelConfig {
  std::string arch_name;  // the architecture, as Hugging Face's model_type names it: "llama", "gemma2"...
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  float rms_norm_eps = 1e-6f;
  RopeConfig rope;  // the model's RoPE (each layer's copy may differ: LayerConfig::rope)
  bool tie_word_embeddings = false;
  bool qkv_bias = false;  // q/k/v projections carry biases (Qwen2)
  bool qk_norm = false;   // per-head RMSNorm of q and k before RoPE (Qwen3, Gemma 3)
  Activation activation = Activation::Silu;
  bool norm_plus_one = false;   // RMSNorm multiplies by (1 + w) (Gemma 2/3): loaded as w + 1
  float embed_scale = 1.0f;     // embeddings are multiplied by this (Gemma: sqrt(hidden))
  float attn_scale = 0.0f;      // attention score scale (0: 1 / sqrt(head_dim))
  float attn_softcap = 0.0f;    // attention scores -> softcap * tanh(score / softcap) (0: none)
  float final_softcap = 0.0f;   // the same on the final logits
  std::vector<LayerConfig> layers;  // [num_layers]
  MoeConfig moe;                    // when some layer has moe

  // Token ids from the model's own files (-1 when absent).
  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_ids;
  int64_t pad_token_id = -1;

  // Every layer's window, in layer order (0 = full attention).
  std::vector<int64_t> layer_windows() const;
  float attention_scale() const;
};

}  // namespace ax
