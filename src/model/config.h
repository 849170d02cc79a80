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
  // "default", "linear", "llama3", "yarn", "proportional" (Gemma 4's full layers: the whole head
  // pairs up rotate-half, but only the first partial_rotary_factor * head_dim / 2 pairs turn, at
  // theta^(-2i / head_dim); the other pairs have frequency 0 and pass unchanged)
  std::string scaling_type = "default";
  float factor = 1.0f;
  float partial_rotary_factor = 1.0f;  // proportional only (others cut rotary_dim instead)
  // llama3
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int64_t original_max_position = 0;
  // yarn
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
  float attention_factor = 0.0f;  // 0: derive from factor
  bool yarn_truncate = true;       // floor/ceil the correction range (HF "truncate", default true)
  // DeepSeek's YaRN "mscale_all_dim" (0: none): its attention scores are scaled by mscale^2,
  // mscale = 0.1 * mscale_all_dim * ln(factor) + 1 (ModelConfig::attn_scale carries it)
  float mscale_all_dim = 0.0f;
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
  // The token mixer is gated-delta linear attention (ModelConfig::gated_delta) instead of softmax
  // attention: the layer keeps a recurrent state per sequence, no K/V.
  bool linear_attention = false;
  // This layer's q/k/v width per head, where layer kinds differ (Gemma 4: full-attention layers
  // have wider heads); 0: the model's head_dim.
  int64_t head_dim = 0;
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
  // The shared expert's output is scaled by sigmoid(shared_expert_gate . x) per token (Qwen3-Next,
  // Qwen3.5-MoE: mlp.shared_expert_gate [1, hidden]).
  bool shared_expert_gate = false;
  // Gemma 4: the experts run beside the layer's dense MLP rather than in its place, each branch
  // with norms of its own (model/decoder.h); the router reads the residual stream, RMS-normalised
  // and scaled per channel (router.scale * hidden^-0.5), and each chosen expert's weight is scaled
  // by that expert's own factor (router.per_expert_scale).
  bool beside_dense = false;

  // Throws naming `where` when the sizes do not make a mixture.
  void validate(const std::string& where) const;
};

// Multi-head latent attention (DeepSeek-V2/V3, GLM-4.7-Flash; model/mla.h): queries through a rank
// q_lora_rank bottleneck (or a plain q_proj), keys and values from a kv_lora_rank-wide latent shared
// by all heads plus one qk_rope_head_dim RoPE part; per head the query/key is qk_nope_head_dim +
// qk_rope_head_dim wide and the value v_head_dim. The KV cache keeps the latent row.
struct MlaConfig {
  int64_t q_lora_rank = 0;   // 0: q_proj
  int64_t kv_lora_rank = 0;  // 0: not MLA
  int64_t qk_nope_head_dim = 0, qk_rope_head_dim = 0, v_head_dim = 0;
  float latent_norm_eps = 1e-6f;  // epsilon of the q_a / kv_a RMSNorms (transformers: 1e-6 always)
  bool enabled() const { return kv_lora_rank > 0; }
  // Throws naming `where` when the sizes do not make an MLA layer.
  void validate(const std::string& where) const;
};

// Gated-delta-net linear attention (Qwen3-Next, Qwen3.5; model/gated_delta.h): per token, q and k
// of num_k_heads x k_head_dim, v of num_v_heads x v_head_dim (each key head serves num_v_heads /
// num_k_heads value heads: consecutive ones, or with v_heads_tiled every num_k_heads-th), all three through a causal depthwise conv of conv_kernel
// taps; a per-head recurrent state [k_head_dim, v_head_dim] decays by exp(g) and is corrected by the
// delta rule. The state a sequence keeps per such layer: the last conv_kernel - 1 conv inputs plus
// the num_v_heads states.
struct GatedDeltaConfig {
  int64_t num_k_heads = 0, num_v_heads = 0;
  int64_t k_head_dim = 0, v_head_dim = 0;
  int64_t conv_kernel = 0;
  // Value head h reads key head h % num_k_heads instead of h / (num_v_heads / num_k_heads): the
  // order llama.cpp's converter gives the value heads of qwen35 / qwen35moe GGUFs (every tensor
  // indexed by value head is reordered alike, so only the key head a value head reads changes).
  bool v_heads_tiled = false;
  int64_t key_width() const { return num_k_heads * k_head_dim; }
  int64_t value_width() const { return num_v_heads * v_head_dim; }
  int64_t conv_channels() const { return 2 * key_width() + value_width(); }  // q, k, v
  int64_t conv_state_floats() const { return (conv_kernel - 1) * conv_channels(); }
  int64_t state_floats() const { return conv_state_floats() + num_v_heads * k_head_dim * v_head_dim; }
  // Throws naming `where` when the sizes do not make a gated-delta layer.
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
  MlaConfig mla;                    // when attention is MLA (then head_dim = qk_nope + qk_rope)
  GatedDeltaConfig gated_delta;     // when some layer has linear_attention
  // Softmax attention's output is gated per value: q_proj gives each head's query and a gate
  // (Qwen3-Next, Qwen3.5), out = o_proj(attention * sigmoid(gate)).
  bool attn_output_gate = false;
  // Values are RMS-normalised per head, without a weight, before they are cached (Gemma 4).
  bool v_norm = false;
  // Per-layer embeddings (Gemma 4's PLE, model/per_layer_input.h): each token gets a
  // per_layer_input_size-wide input for every layer; 0: none.
  int64_t per_layer_input_size = 0;

  // Token ids from the model's own files (-1 when absent).
  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_ids;
  int64_t pad_token_id = -1;

  // Every layer's window, in layer order (0 = full attention).
  std::vector<int64_t> layer_windows() const;
  // Layer l's q/k/v width per head (LayerConfig::head_dim, else head_dim), and whether any layer's
  // differs from head_dim.
  int64_t layer_head_dim(int64_t l) const;
  bool mixed_head_dims() const;
  // Layers with softmax attention (a K/V cache of their own), and the recurrent state one sequence
  // keeps over all linear-attention layers, in floats.
  int64_t num_attention_layers() const;
  int64_t recurrent_state_floats() const;
  float attention_scale() const;
};

}  // namespace ax
