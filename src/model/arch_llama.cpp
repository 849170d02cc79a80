// The Llama family (Llama 2/3, Mistral, Qwen2, Qwen3): the pre-norm decoder (model/decoder.h) with
//
//     x += o_proj(attention(rope(q_norm?(q_proj(n) + b_q)), rope(k_norm?(k_proj(n) + b_k)),
//                           v_proj(n) + b_v)),               n = rms_norm(x, input_layernorm)
//     x += down(silu(gate(n')) * up(n')),                    n' = rms_norm(x, post_attention_layernorm)
//
// Variants: Mistral windows attention per layer; Qwen2 adds q/k/v biases; Qwen3 RMS-normalises each
// head of q and k before RoPE. Tied models use embed_tokens as lm_head.
#include "format/gguf.h"
#include "model/architecture.h"
#include "model/decoder.h"
#include "util/error.h"

namespace ax {
namespace {

std::unique_ptr<Model> make(const ModelSource& source, Backend& backend) {
  return make_decoder(source, backend, find_llama_tensors);
}

// ---- config -----------------------------------------------------------------------------------------

// What none of the four supports, whatever the family.
void check_hf_common(const HfFields& c, ModelConfig& m) {
  if (parse_hf_activation(c) != Activation::Silu)
    fail("{}: hidden_act '{}' is not supported for {} (only silu)", c.where(), c.get_string_or("hidden_act", ""),
         m.arch_name);
  if (c.get_bool_or("mlp_bias", false)) fail("{}: mlp_bias true is not supported", c.where());
  if (m.intermediate_size <= 0) fail("{}: required field 'intermediate_size' is missing", c.where());
}

// Qwen2/Qwen3 carry a sliding_window value but use it only with use_sliding_window true; then
// layer_types says which layers, else the layers from max_window_layers on.
void qwen_windows(const HfFields& c, ModelConfig& m) {
  if (!c.get_bool_or("use_sliding_window", false)) return;
  const int64_t window = c.get_int_or("sliding_window", 0);
  if (window == 0) return;
  if (window < 0) fail("{}: field 'sliding_window' must be positive, got {}", c.where(), window);
  if (parse_hf_layer_types(c, window, m.layers)) return;
  const int64_t first = c.get_int_or("max_window_layers", 0);
  for (int64_t i = std::max<int64_t>(first, 0); i < m.num_layers; ++i) m.layers[i].window = window;
}

void llama_hf(const HfFields& c, ModelConfig& m) {
  check_hf_common(c, m);
  if (c.get_bool_or("attention_bias", false))
    fail("{}: attention_bias true (biases on q/k/v/o projections) is not supported", c.where());
}

void mistral_hf(const HfFields& c, ModelConfig& m) {
  llama_hf(c, m);
  const int64_t window = c.get_int_or("sliding_window", 0);
  if (window < 0) fail("{}: field 'sliding_window' must be positive, got {}", c.where(), window);
  if (window > 0 && !parse_hf_layer_types(c, window, m.layers))
    for (LayerConfig& l : m.layers) l.window = window;
}

void qwen2_hf(const HfFields& c, ModelConfig& m) {
  check_hf_common(c, m);  // attention_bias: q/k/v biases by construction (no o_proj bias), whatever it says
  m.qkv_bias = true;
  qwen_windows(c, m);
}

void qwen3_hf(const HfFields& c, ModelConfig& m) {
  check_hf_common(c, m);
  if (c.get_bool_or("attention_bias", false))
    fail("{}: attention_bias true (biases on q/k/v/o projections) is not supported", c.where());
  m.qk_norm = true;
  qwen_windows(c, m);
}

void check_gguf_common(const GgufFile& f, ModelConfig& m) {
  if (m.intermediate_size <= 0)
    fail("{}: metadata key '{}.feed_forward_length' must be positive", f.path(), f.get_string("general.architecture"));
  const std::string p = f.get_string("general.architecture") + ".";
  const int64_t window = f.get_int_or(p + "attention.sliding_window", 0);
  if (window < 0) fail("{}: metadata key '{}attention.sliding_window' is negative", f.path(), p);
  for (LayerConfig& l : m.layers) l.window = window;
  m.qkv_bias = f.tensor("blk.0.attn_q.bias") != nullptr;
  if (f.tensor("blk.0.attn_output.bias"))
    fail("{}: tensor 'blk.0.attn_output.bias' (attention output bias) is not supported", f.path());
  m.qk_norm = m.arch_name == "qwen3" || f.tensor("blk.0.attn_q_norm.weight") != nullptr;
}

// llama.cpp's converter permutes the Q/K rows of these for its "normal" RoPE mode.
void adjacent_pairs_gguf(const GgufFile& f, ModelConfig& m) {
  check_gguf_common(f, m);
  m.rope.style = RopeStyle::AdjacentPairs;
  for (LayerConfig& l : m.layers) l.rope.style = RopeStyle::AdjacentPairs;
}

constexpr TensorNamePair kNames[] = {
    {"ffn_norm", "post_attention_layernorm"},
    // Some converters name the post-attention norm like this (same tensor role).
    {"post_attention_norm", "post_attention_layernorm"},
};

}  // namespace

// llama.cpp converts Mistral checkpoints as "llama" too; "mistral" GGUFs exist as well.
extern const Architecture kLlamaArch{{"llama"}, {"llama"}, llama_hf, adjacent_pairs_gguf, kNames, make};
extern const Architecture kMistralArch{{"mistral"}, {"mistral"}, mistral_hf, adjacent_pairs_gguf, kNames, make};
extern const Architecture kQwen2Arch{{"qwen2"}, {"qwen2"}, qwen2_hf, check_gguf_common, kNames, make};
extern const Architecture kQwen3Arch{{"qwen3"}, {"qwen3"}, qwen3_hf, check_gguf_common, kNames, make};

}  // namespace ax
