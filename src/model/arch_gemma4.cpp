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
//
// GGUF (llama.cpp's "gemma4"): attention.key_length is the full layers' head width and
// key_length_swa the sliding layers'; rope.freq_base / freq_base_swa and dimension_count /
// dimension_count_swa the same per kind; proportional RoPE is a rope_freqs tensor of one divisor per
// pair of a full head, 1 for the pairs that turn and 1e30 for the others.
#include <cmath>
#include <cstring>
#include <string>

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

// What every Gemma 4 is, whatever the file says.
void gemma4_conventions(ModelConfig& m) {
  m.activation = Activation::GeluTanh;
  m.norm_plus_one = false;
  m.embed_scale = static_cast<float>(std::sqrt(static_cast<double>(m.hidden_size)));
  m.attn_scale = 1.0f;
  m.qk_norm = true;
  m.v_norm = true;
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
  gemma4_conventions(m);
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
  m.rope = m.layers.back().rope;  // the model's RoPE: the full layers' (GGUF writes it as the main one)
  for (const LayerConfig& l : m.layers)
    if (l.window == 0) {
      m.rope = l.rope;
      break;
    }

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

// A divisor in rope_freqs at least this large marks a pair that does not turn (llama.cpp writes 1e30).
constexpr float kUnturnedDivisor = 1e20f, kUnturnedWritten = 1e30f;

int64_t full_head_dim(const ModelConfig& m) {
  for (int64_t l = 0; l < m.num_layers; ++l)
    if (m.layers[l].window == 0) return m.layer_head_dim(l);
  return m.head_dim;
}

void gemma4_gguf(const GgufFile& f, ModelConfig& m) {
  const std::string p = "gemma4.";
  if (f.get_int_or(p + "attention.shared_kv_layers", 0) != 0)
    fail("{}: '{}attention.shared_kv_layers' > 0 (layers reusing an earlier layer's K/V) is not supported yet",
         f.path(), p);
  if (m.intermediate_size <= 0) fail("{}: metadata key '{}feed_forward_length' must be positive", f.path(), p);
  gemma4_conventions(m);
  m.final_softcap = static_cast<float>(f.get_float_or(p + "final_logit_softcapping", 0.0));
  const int64_t window = f.get_int_or(p + "attention.sliding_window", 0);
  if (window <= 0) fail("{}: metadata key '{}attention.sliding_window' must be positive", f.path(), p);
  const std::vector<bool> sliding = gguf_sliding_layers(f, m.num_layers, 0);

  // Head widths: key_length is the full layers', key_length_swa the sliding ones'.
  const int64_t full = m.head_dim, swa = f.get_int_or(p + "attention.key_length_swa", full);
  if (swa <= 0 || f.get_int_or(p + "attention.value_length_swa", swa) != swa)
    fail("{}: '{}attention.key_length_swa' must be positive and equal value_length_swa", f.path(), p);
  m.head_dim = swa;
  const float swa_theta = static_cast<float>(f.get_float_or(p + "rope.freq_base_swa", 10000.0));
  const int64_t swa_rot = f.get_int_or(p + "rope.dimension_count_swa", swa);
  if (swa_rot <= 0 || swa_rot > swa || swa_rot % 2 != 0)
    fail("{}: '{}rope.dimension_count_swa' {} is not an even number up to {}", f.path(), p, swa_rot, swa);

  // The full layers' RoPE: proportional where rope_freqs marks unturned pairs.
  RopeConfig full_rope = m.rope;
  if (const TensorView* freqs = f.tensor("rope_freqs.weight")) {
    if (freqs->dtype != DType::F32 || freqs->shape != std::vector<int64_t>{full / 2} || m.rope.rotary_dim != 0)
      fail("{}: tensor 'rope_freqs.weight' must be F32 [{}] over whole heads of {}", f.path(), full / 2, full);
    int64_t turning = 0;
    for (int64_t i = 0; i < full / 2; ++i) {
      float v;
      std::memcpy(&v, freqs->data + 4 * i, 4);
      const bool turns = v == 1.0f;
      if (!turns && !(v >= kUnturnedDivisor))
        fail("{}: tensor 'rope_freqs.weight' holds {} (1 for pairs that turn, 1e30 for the others expected)",
             f.path(), v);
      if (turns && turning != i) fail("{}: tensor 'rope_freqs.weight' turns pairs after unturned ones", f.path());
      turning += turns ? 1 : 0;
    }
    full_rope.scaling_type = "proportional";
    full_rope.partial_rotary_factor = static_cast<float>(2 * turning) / static_cast<float>(full);
  }
  for (int64_t l = 0; l < m.num_layers; ++l) {
    LayerConfig& lc = m.layers[l];
    if (sliding[l]) {
      lc.window = window;
      lc.rope = RopeConfig{};
      lc.rope.theta = swa_theta;
      lc.rope.rotary_dim = swa_rot == swa ? 0 : static_cast<int>(swa_rot);
    } else {
      lc.window = 0;
      lc.head_dim = full == swa ? 0 : full;
      lc.rope = full_rope;
      if (!f.tensor(fmt::format("blk.{}.attn_v.weight", l)))
        fail("{}: layer {} has no attn_v (keys doubling as values is not supported yet)", f.path(), l);
    }
  }
  m.rope = full_rope;

  m.per_layer_input_size = f.get_int_or(p + "embedding_length_per_layer_input", 0);
  if (m.per_layer_input_size < 0) fail("{}: '{}embedding_length_per_layer_input' is negative", f.path(), p);
  if (f.get_int_or(p + "expert_count", 0) > 0) {
    m.moe.num_experts = f.get_int_or(p + "expert_count", 0);
    m.moe.top_k = f.get_int_or(p + "expert_used_count", 0);
    m.moe.expert_intermediate = f.get_int_or(p + "expert_feed_forward_length", 0);
    m.moe.routing = MoeRouting::SoftmaxTopK;
    m.moe.norm_topk_prob = true;
    m.moe.beside_dense = true;
    m.moe.validate(f.path());
    for (int64_t l = 0; l < m.num_layers; ++l)
      m.layers[l].moe = f.tensor(fmt::format("blk.{}.ffn_gate_inp.weight", l)) != nullptr;
  }
}

// The keys beyond the common ones (which wrote the sliding layers' widths as the model's), and the
// full layers' proportional RoPE as rope_freqs.
void gemma4_to_gguf(const ModelConfig& c, GgufWriter& w) {
  const std::string p = "gemma4.";
  const int64_t full = full_head_dim(c);
  w.set_u32(p + "attention.key_length", static_cast<uint32_t>(full));
  w.set_u32(p + "attention.value_length", static_cast<uint32_t>(full));
  w.set_u32(p + "attention.key_length_swa", static_cast<uint32_t>(c.head_dim));
  w.set_u32(p + "attention.value_length_swa", static_cast<uint32_t>(c.head_dim));
  w.set_u32(p + "attention.shared_kv_layers", 0);
  w.set_u32(p + "embedding_length_per_layer_input", static_cast<uint32_t>(c.per_layer_input_size));
  int64_t swa_rot = c.head_dim;
  for (const LayerConfig& l : c.layers)
    if (l.window > 0 && l.rope.rotary_dim > 0) swa_rot = l.rope.rotary_dim;
  w.set_u32(p + "rope.dimension_count_swa", static_cast<uint32_t>(swa_rot));
  const RopeConfig& r = c.rope;
  w.set_u32(p + "rope.dimension_count", static_cast<uint32_t>(r.rotary_dim > 0 ? r.rotary_dim : full));
  if (r.scaling_type == "proportional") {
    if (r.factor != 1.0f) fail("GGUF export: proportional RoPE with a factor has no GGUF form");
    const auto turning = static_cast<int64_t>(std::floor(static_cast<double>(r.partial_rotary_factor) * full / 2.0));
    std::vector<float> divisors(static_cast<size_t>(full / 2), kUnturnedWritten);
    for (int64_t i = 0; i < turning; ++i) divisors[static_cast<size_t>(i)] = 1.0f;
    w.add_tensor("rope_freqs.weight", DType::F32, {full / 2}, divisors);
  }
}

constexpr TensorNamePair kNames[] = {
    {"post_attention_norm", "post_attention_layernorm"},
    {"ffn_norm", "pre_feedforward_layernorm"},
    {"post_ffw_norm", "post_feedforward_layernorm"},
    {"layer_output_scale.weight", "layer_scalar"},
    {"inp_gate", "per_layer_input_gate"},
    {"proj", "per_layer_projection"},
    {"post_norm", "post_per_layer_input_norm"},
    {"ffn_gate_inp.scale", "router.scale"},
    {"ffn_gate_inp", "router.proj"},
    {"ffn_down_exps.scale", "router.per_expert_scale"},
    {"ffn_gate_up_exps.weight", "experts.gate_up_proj"},
    {"ffn_down_exps.weight", "experts.down_proj"},
    {"pre_ffw_norm_2", "pre_feedforward_layernorm_2"},
    {"post_ffw_norm_1", "post_feedforward_layernorm_1"},
    {"post_ffw_norm_2", "post_feedforward_layernorm_2"},
};

}  // namespace

extern const Architecture kGemma4Arch{{"gemma4_text"}, {"gemma4"}, gemma4_hf, gemma4_gguf, kNames, make, gemma4_to_gguf};

}  // namespace ax
