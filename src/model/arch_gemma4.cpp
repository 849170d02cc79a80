// Gemma 4 (text, gemma4_text): the shared decoder with Gemma's four norms per layer and GeGLU, and:
//   - RMSNorm multiplies by plain w (not 1 + w as in Gemma 2/3); embeddings scaled by sqrt(hidden);
//   - q/k norms, and a weightless RMSNorm of each value head (ModelConfig::v_norm); attention
//     scale 1 (the norms set the scores' size);
//   - sliding and full layers (layer_types) with heads of their own width: full layers take
//     global_head_dim or per_layer_config's head_dim, so the KV cache keeps each layer at its own
//     width (KvShape::layer_head_dims); RoPE per layer kind, "proportional" on full layers
//     (model/rope.h);
//   - per-layer embeddings (PLE, model/per_layer_input.h) where hidden_size_per_layer_input > 0;
//   - every layer's output (the whole residual stream) scaled by its layer_scalar;
//   - enable_moe_block (26B-A4B): experts beside the dense MLP in every layer (MoeConfig::beside_dense),
//     softmax top-k renormalised, times router.per_expert_scale;
//   - final logits soft-capped.
// Not supported yet, refused at load: KV sharing across layers (num_kv_shared_layers, the E2B/E4B
// checkpoints) and keys doubling as values on full layers (attention_k_eq_v, 31B and 26B-A4B).
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "model/architecture.h"
#include "model/decoder.h"
#include "util/error.h"

namespace ax {
namespace {

DecoderLayerTensors find_gemma4_tensors(const ModelSource& src, const ModelConfig& cfg, int64_t l) {
  DecoderLayerTensors t = find_gemma_tensors(src, cfg, l);
  const std::string p = fmt::format("model.layers.{}.", l);
  const int64_t H = cfg.hidden_size;
  t.layer_scalar = src.find(p + "layer_scalar") ? &src.get(p + "layer_scalar", {1}) : nullptr;
  if (cfg.per_layer_input_size > 0)
    t.per_layer_input = std::make_shared<PerLayerInputLayerTensors>(find_per_layer_input_layer_tensors(src, cfg, l));
  if (cfg.layers[l].moe) {
    const int64_t E = cfg.moe.num_experts, I = cfg.moe.expert_intermediate;
    t.router = &src.get(p + "router.proj.weight", {E, H});
    t.router_scale = &src.get(p + "router.scale", {H});
    t.expert_scale = &src.get(p + "router.per_expert_scale", {E});
    // gate_up_proj [E, 2I, H] (gate rows first), down_proj [E, H, I]: x . W^T per expert.
    const TensorView& gate_up = src.get(p + "experts.gate_up_proj", {E, 2 * I, H});
    const TensorView& down = src.get(p + "experts.down_proj", {E, H, I});
    for (int64_t e = 0; e < E; ++e) {
      const TensorView gu = expert_slice(gate_up, e);
      t.experts.push_back({row_slice(gu, 0, I), row_slice(gu, I, I), expert_slice(down, e)});
    }
    t.post_dense_norm = &src.get(p + "post_feedforward_layernorm_1.weight", {H});
    t.pre_experts_norm = &src.get(p + "pre_feedforward_layernorm_2.weight", {H});
    t.post_experts_norm = &src.get(p + "post_feedforward_layernorm_2.weight", {H});
  }
  return t;
}

std::unique_ptr<Model> make(const ModelSource& source, Backend& backend) {
  return make_decoder(source, backend, find_gemma4_tensors);
}

// Full layers' heads: global_head_dim (released configs), or per_layer_config {"<layer>": {"head_dim"}}.
void gemma4_head_dims(const HfFields& c, ModelConfig& m) {
  const int64_t global = c.get_int_or("global_head_dim", 0);
  if (global < 0) fail("{}: field 'global_head_dim' must be positive", c.where());
  for (LayerConfig& l : m.layers)
    if (l.window == 0 && global > 0) l.head_dim = global;
  if (!c.has("per_layer_config")) return;
  const nlohmann::json& per = c.at("per_layer_config");
  if (!per.is_object()) fail("{}: field 'per_layer_config' is not an object", c.where());
  for (const auto& [key, value] : per.items()) {
    const std::string where = fmt::format("{} per_layer_config.{}", c.where(), key);
    size_t used = 0;
    int64_t l = -1;
    try {
      l = std::stoll(key, &used);
    } catch (const std::exception&) {
    }
    if (used != key.size() || l < 0 || l >= m.num_layers) fail("{}: not a layer index below {}", where, m.num_layers);
    if (!value.is_object()) fail("{}: is not an object", where);
    for (const auto& [field, v] : value.items()) {
      if (field != "head_dim") fail("{}: field '{}' is not supported (only head_dim)", where, field);
      if (!v.is_number_integer() || v.get<int64_t>() <= 0) fail("{}: head_dim must be a positive integer", where);
      m.layers[l].head_dim = v.get<int64_t>();
    }
  }
}

void gemma4_hf(const HfFields& c, ModelConfig& m) {
  if (parse_hf_activation(c) != Activation::GeluTanh)
    fail("{}: hidden_activation must be gelu_pytorch_tanh for gemma4_text", c.where());
  if (c.get_bool_or("attention_bias", false)) fail("{}: attention_bias true is not supported", c.where());
  if (c.has("use_bidirectional_attention") && c.at("use_bidirectional_attention") == "all")
    fail("{}: use_bidirectional_attention 'all' is not supported (causal decoders only)", c.where());
  if (c.get_int_or("num_kv_shared_layers", 0) != 0)
    fail("{}: num_kv_shared_layers > 0 (layers reusing an earlier layer's K/V) is not supported yet", c.where());
  if (c.get_bool_or("attention_k_eq_v", false))
    fail("{}: attention_k_eq_v true (full layers whose keys are their values) is not supported yet", c.where());
  if (c.has("attn_logit_softcapping")) fail("{}: attn_logit_softcapping is not a Gemma 4 option", c.where());
  if (m.intermediate_size <= 0) fail("{}: required field 'intermediate_size' is missing", c.where());
  m.activation = Activation::GeluTanh;
  m.norm_plus_one = false;
  m.embed_scale = static_cast<float>(std::sqrt(static_cast<double>(m.hidden_size)));
  m.attn_scale = 1.0f;
  m.qk_norm = true;
  m.v_norm = true;
  m.final_softcap = static_cast<float>(c.get_float_or("final_logit_softcapping", 0.0));
  if (m.final_softcap < 0) fail("{}: final_logit_softcapping must not be negative", c.where());

  const int64_t window = c.get_int_or("sliding_window", 0);
  if (window <= 0) fail("{}: field 'sliding_window' must be positive", c.where());
  if (!parse_hf_layer_types(c, window, m.layers)) fail("{}: required field 'layer_types' is missing", c.where());
  gemma4_head_dims(c, m);

  // RoPE per layer kind, at each layer's head width.
  if (!c.has("rope_parameters") || !c.at("rope_parameters").is_object())
    fail("{}: required field 'rope_parameters' (per layer kind) is missing", c.where());
  for (int64_t l = 0; l < m.num_layers; ++l) {
    const char* kind = m.layers[l].window > 0 ? "sliding_attention" : "full_attention";
    const std::string where = c.where() + " rope_parameters";
    if (!c.at("rope_parameters").contains(kind)) fail("{}: no '{}' entry", where, kind);
    nlohmann::json wrapper = {{"rope_parameters", c.at("rope_parameters").at(kind)}};
    m.layers[l].rope = parse_hf_rope(HfFields(wrapper, where + "." + kind), m.layer_head_dim(l));
  }
  m.rope = m.layers.back().rope;

  m.per_layer_input_size = c.get_int_or("hidden_size_per_layer_input", 0);
  if (m.per_layer_input_size < 0) fail("{}: hidden_size_per_layer_input must not be negative", c.where());
  if (m.per_layer_input_size > 0 && c.get_int_or("vocab_size_per_layer_input", m.vocab_size) != m.vocab_size)
    fail("{}: vocab_size_per_layer_input must equal vocab_size", c.where());

  if (c.get_bool_or("enable_moe_block", false)) {
    m.moe.num_experts = c.get_int_or("num_experts", 0);
    m.moe.top_k = c.get_int_or("top_k_experts", 0);
    m.moe.expert_intermediate = c.get_int_or("moe_intermediate_size", 0);
    m.moe.routing = MoeRouting::SoftmaxTopK;
    m.moe.norm_topk_prob = true;
    m.moe.beside_dense = true;
    m.moe.validate(c.where());
    for (LayerConfig& l : m.layers) l.moe = true;
  }
}

}  // namespace

extern const Architecture kGemma4Arch{{"gemma4_text"}, {}, gemma4_hf, nullptr, {}, make};

}  // namespace ax
