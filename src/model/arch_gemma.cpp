// Gemma 2 and Gemma 3 (text): the shared decoder with Gemma's conventions:
//   - RMSNorm multiplies by (1 + w) (weights stored near 0; llama.cpp's converter adds the 1);
//   - embeddings are scaled by sqrt(hidden);
//   - a norm on each block's output too (post_attention_layernorm, post_feedforward_layernorm),
//     and pre_feedforward_layernorm as the feed-forward's input norm;
//   - GeGLU (GELU, tanh approximation);
//   - attention scale query_pre_attn_scalar^-0.5; sliding and full layers (layer_types);
//   - Gemma 2: attention and final logits soft-capped;
//   - Gemma 3: per-head q/k norms, and a RoPE base per layer kind (sliding / full).
#include <cmath>

#include <fmt/format.h>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "model/architecture.h"
#include "model/decoder.h"
#include "model/gguf_config.h"
#include "model/gguf_export.h"
#include "util/error.h"

namespace ax {
namespace {

std::unique_ptr<Model> make(const ModelSource& source, Backend& backend) {
  return make_decoder(source, backend, find_gemma_tensors);
}

// What both generations share, from config.json.
void gemma_common_hf(const HfFields& c, ModelConfig& m) {
  if (parse_hf_activation(c) != Activation::GeluTanh)
    fail("{}: hidden_activation must be gelu_pytorch_tanh for {}", c.where(), m.arch_name);
  if (c.get_bool_or("attention_bias", false)) fail("{}: attention_bias true is not supported", c.where());
  if (c.get_bool_or("use_bidirectional_attention", false))
    fail("{}: use_bidirectional_attention true is not supported (causal decoders only)", c.where());
  if (m.intermediate_size <= 0) fail("{}: required field 'intermediate_size' is missing", c.where());
  m.activation = Activation::GeluTanh;
  m.norm_plus_one = true;
  m.embed_scale = static_cast<float>(std::sqrt(static_cast<double>(m.hidden_size)));
  const double qscalar = c.get_float_or("query_pre_attn_scalar", static_cast<double>(m.head_dim));
  if (!(qscalar > 0)) fail("{}: field 'query_pre_attn_scalar' must be positive", c.where());
  m.attn_scale = static_cast<float>(std::pow(qscalar, -0.5));
  m.attn_softcap = static_cast<float>(c.get_float_or("attn_logit_softcapping", 0.0));
  m.final_softcap = static_cast<float>(c.get_float_or("final_logit_softcapping", 0.0));
  if (m.attn_softcap < 0 || m.final_softcap < 0) fail("{}: soft-capping values must not be negative", c.where());
  const int64_t window = c.get_int_or("sliding_window", 0);
  if (window < 0) fail("{}: field 'sliding_window' must be positive, got {}", c.where(), window);
  if (!parse_hf_layer_types(c, window, m.layers)) {
    // Older configs: every `sliding_window_pattern`-th layer is full, the others slide.
    const int64_t pattern = c.get_int_or("sliding_window_pattern", c.get_int_or("_sliding_window_pattern", 2));
    if (pattern <= 0) fail("{}: field 'sliding_window_pattern' must be positive", c.where());
    for (int64_t l = 0; l < m.num_layers; ++l) m.layers[l].window = (l + 1) % pattern != 0 ? window : 0;
  }
}

void gemma2_hf(const HfFields& c, ModelConfig& m) { gemma_common_hf(c, m); }

void gemma3_hf(const HfFields& c, ModelConfig& m) {
  gemma_common_hf(c, m);
  m.qk_norm = true;
  // RoPE per layer kind: transformers 5 nests rope_parameters by layer type; older configs give
  // rope_theta (full layers, with rope_scaling) and rope_local_base_freq (sliding layers).
  RopeConfig full = m.rope, sliding = m.rope;
  if (c.has("rope_parameters") && c.at("rope_parameters").contains("full_attention")) {
    for (auto [kind, rope] : {std::pair{"full_attention", &full}, {"sliding_attention", &sliding}}) {
      const std::string where = c.where() + " rope_parameters";
      const auto& params = c.at("rope_parameters");
      if (!params.contains(kind)) fail("{}: no '{}' entry", where, kind);
      nlohmann::json wrapper = {{"rope_parameters", params.at(kind)}};
      *rope = parse_hf_rope(HfFields(wrapper, where + "." + kind), m.head_dim);
    }
  } else {
    sliding.scaling_type = "default";
    sliding.factor = 1.0f;
    sliding.theta = static_cast<float>(c.get_float_or("rope_local_base_freq", 10000.0));
  }
  for (LayerConfig& l : m.layers) l.rope = l.window > 0 ? sliding : full;
  m.rope = full;
}

// llama.cpp's converter stores Gemma's norms as (1 + w) already; which layers slide is
// attention.sliding_window_pattern where the file has it, else llama.cpp's default per
// generation (Gemma 2 every other layer, Gemma 3 five of every six).
// llama.cpp has no key for query_pre_attn_scalar: it scales by head_dim^-0.5, except for the 27B
// models (known by their layer count) where the scalar is hidden / heads.
float llama_cpp_gemma_scale(const ModelConfig& m, int64_t layers_27b) {
  const int64_t scalar = m.num_layers == layers_27b ? m.hidden_size / m.num_heads : m.head_dim;
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(scalar)));
}

// Our GGUFs carry any other scale as "<arch>.attention.scale" (llama.cpp ignores it for Gemma).
void gemma_gguf(const GgufFile& f, ModelConfig& m, int64_t pattern, int64_t layers_27b) {
  const std::string p = f.get_string("general.architecture") + ".";
  if (m.intermediate_size <= 0) fail("{}: metadata key '{}feed_forward_length' must be positive", f.path(), p);
  m.activation = Activation::GeluTanh;
  m.norm_plus_one = false;
  m.embed_scale = static_cast<float>(std::sqrt(static_cast<double>(m.hidden_size)));
  m.attn_softcap = static_cast<float>(f.get_float_or(p + "attn_logit_softcapping", 0.0));
  m.final_softcap = static_cast<float>(f.get_float_or(p + "final_logit_softcapping", 0.0));
  m.attn_scale = static_cast<float>(f.get_float_or(p + "attention.scale", llama_cpp_gemma_scale(m, layers_27b)));
  if (!(m.attn_scale > 0)) fail("{}: metadata key '{}attention.scale' must be positive", f.path(), p);
  const int64_t window = f.get_int_or(p + "attention.sliding_window", 0);
  if (window < 0) fail("{}: metadata key '{}attention.sliding_window' is negative", f.path(), p);
  const std::vector<bool> sliding = gguf_sliding_layers(f, m.num_layers, pattern);
  for (int64_t l = 0; l < m.num_layers; ++l) m.layers[l].window = sliding[l] ? window : 0;
}

constexpr int64_t kGemma2Layers27b = 46, kGemma3Layers27b = 62;

void gemma2_gguf(const GgufFile& f, ModelConfig& m) { gemma_gguf(f, m, 2, kGemma2Layers27b); }

void gemma3_gguf(const GgufFile& f, ModelConfig& m) {
  gemma_gguf(f, m, 6, kGemma3Layers27b);
  m.qk_norm = true;
  for (LayerConfig& l : m.layers)
    if (l.window > 0) {  // sliding layers: their own base (10000 unless the file says), no scaling
      l.rope.theta = static_cast<float>(f.get_float_or(f.get_string("general.architecture") + ".rope.freq_base_swa", 10000.0));
      l.rope.scaling_type = "default";
      l.rope.factor = 1.0f;
    }
}

void gemma_to_gguf(const ModelConfig& c, GgufWriter& w, int64_t layers_27b) {
  if (std::fabs(c.attention_scale() - llama_cpp_gemma_scale(c, layers_27b)) > 1e-7f * c.attention_scale())
    w.set_f32(gguf_arch_name(c) + ".attention.scale", c.attention_scale());
}
void gemma2_to_gguf(const ModelConfig& c, GgufWriter& w) { gemma_to_gguf(c, w, kGemma2Layers27b); }
void gemma3_to_gguf(const ModelConfig& c, GgufWriter& w) { gemma_to_gguf(c, w, kGemma3Layers27b); }

constexpr TensorNamePair kNames[] = {
    {"post_attention_norm", "post_attention_layernorm"},
    {"ffn_norm", "pre_feedforward_layernorm"},
    {"post_ffw_norm", "post_feedforward_layernorm"},
};

}  // namespace

extern const Architecture kGemma2Arch{{"gemma2"}, {"gemma2"}, gemma2_hf, gemma2_gguf, kNames, make, gemma2_to_gguf};
extern const Architecture kGemma3Arch{{"gemma3_text"}, {"gemma3"}, gemma3_hf, gemma3_gguf, kNames, make, gemma3_to_gguf};

}  // namespace ax
