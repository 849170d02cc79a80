// DeepSeek-V3 (DeepseekV3ForCausalLM) and GLM-4.7-Flash (Glm4MoeLiteForCausalLM): multi-head latent
// attention (model/mla.h: low-rank queries, one compressed key/value latent per token, RoPE on a
// separate part of each head on adjacent pairs of the stored dims, rope_interleave) and
// DeepSeek-style mixtures of experts (model/grouped_moe.h: sigmoid scores with a selection bias,
// grouped choice, routed scaling, a shared expert, leading dense layers). The two differ only in
// their config's defaults and GLM's per-layer mlp_layer_types.
//
// The softmax scale is 1/sqrt(qk_nope + qk_rope), times mscale^2 where the config has YaRN with
// mscale_all_dim (the released DeepSeek-V3: factor 40, mscale_all_dim 1), as transformers computes it.
//
// GGUF: llama.cpp writes both as "deepseek2" (head_count_kv 1; key/value_length the latent's
// widths, key/value_length_mla the heads'; kv_b_proj split per head into attn_k_b, transposed, and
// attn_v_b); older files with attn_kv_b and per-head key/value_length load too. Their
// multi-token-prediction layers are left out.
#include <cmath>
#include <string>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "model/architecture.h"
#include "model/decoder.h"
#include "model/grouped_moe.h"
#include "util/error.h"

namespace ax {
namespace {

std::unique_ptr<Model> make(const ModelSource& source, Backend& backend) {
  return make_decoder(source, backend, find_llama_tensors);
}

// get_mscale of YaRN as DeepSeek defines it: 0.1 * mscale * ln(factor) + 1 (1 without scaling).
double yarn_mscale(double factor, double mscale) { return factor <= 1.0 ? 1.0 : 0.1 * mscale * std::log(factor) + 1.0; }

// The head sizes and RoPE of the latent attention: heads of qk_nope + qk_rope query/key values
// (one latent kv head), RoPE over the qk_rope part, the softmax scale.
void set_latent_heads(ModelConfig& m, RopeStyle style) {
  const MlaConfig& a = m.mla;
  m.head_dim = a.qk_nope_head_dim + a.qk_rope_head_dim;
  m.num_kv_heads = 1;
  m.rope.rotary_dim = static_cast<int>(a.qk_rope_head_dim);
  m.rope.style = style;
  for (LayerConfig& l : m.layers) l.rope = m.rope;
  double scale = 1.0 / std::sqrt(static_cast<double>(m.head_dim));
  if (m.rope.scaling_type == "yarn" && m.rope.mscale_all_dim != 0.0f) {
    const double ms = yarn_mscale(m.rope.factor, m.rope.mscale_all_dim);
    scale *= ms * ms;
  }
  m.attn_scale = static_cast<float>(scale);
}

void latent_moe_hf(const HfFields& c, ModelConfig& m, const GroupedMoeDefaults& defaults) {
  if (parse_hf_activation(c) != Activation::Silu) fail("{}: hidden_act must be silu for {}", c.where(), m.arch_name);
  if (c.get_bool_or("attention_bias", false))
    fail("{}: attention_bias true (biases on q_a/kv_a/o projections) is not supported", c.where());
  MlaConfig& a = m.mla;
  a.q_lora_rank = c.get_int_or("q_lora_rank", 0);  // null: q_proj
  a.kv_lora_rank = c.get_positive("kv_lora_rank");
  a.qk_nope_head_dim = c.get_positive("qk_nope_head_dim");
  a.qk_rope_head_dim = c.get_positive("qk_rope_head_dim");
  a.v_head_dim = c.get_positive("v_head_dim");
  a.latent_norm_eps = 1e-6f;  // transformers builds the q_a / kv_a norms with their default epsilon
  a.validate(c.where());
  m.rope = parse_hf_rope(c, a.qk_rope_head_dim);
  // rope_interleave (the default): the checkpoints keep each rotated pair side by side, and HF
  // de-interleaves q and k alike before its rotate-half: the same scores as rotating adjacent pairs.
  set_latent_heads(m, c.get_bool_or("rope_interleave", true) ? RopeStyle::AdjacentPairs : RopeStyle::RotateHalf);
  grouped_moe_from_hf(c, m, defaults);
}

// transformers' DeepseekV3Config and Glm4MoeLiteConfig defaults.
void deepseek_v3_hf(const HfFields& c, ModelConfig& m) { latent_moe_hf(c, m, {.dense_lead = 3, .n_group = 8, .topk_group = 4}); }
void glm4_moe_lite_hf(const HfFields& c, ModelConfig& m) { latent_moe_hf(c, m, {}); }

void deepseek2_gguf(const GgufFile& f, ModelConfig& m) {
  drop_nextn_layers(f, m);
  const std::string p = f.get_string("general.architecture") + ".";
  MlaConfig& a = m.mla;
  a.q_lora_rank = f.get_int_or(p + "attention.q_lora_rank", 0);
  a.kv_lora_rank = f.get_int_or(p + "attention.kv_lora_rank", 0);
  a.qk_rope_head_dim = f.get_int_or(p + "rope.dimension_count", 0);
  // Files for the absorbed form give the heads' sizes as *_length_mla (key/value_length are then the
  // latent row's); older ones as key/value_length.
  const int64_t k = f.get_int_or(p + "attention.key_length_mla", f.get_int_or(p + "attention.key_length", 0));
  a.qk_nope_head_dim = k - a.qk_rope_head_dim;
  a.v_head_dim = f.get_int_or(p + "attention.value_length_mla", f.get_int_or(p + "attention.value_length", 0));
  a.latent_norm_eps = m.rms_norm_eps;  // llama.cpp normalises the latents with the model's epsilon
  a.validate(f.path());
  RopeConfig& r = m.rope;
  if (const double log_mul = f.get_float_or(p + "rope.scaling.yarn_log_multiplier", 0.0);
      r.scaling_type == "yarn" && log_mul != 0.0) {
    // llama.cpp's converter writes 0.1 * mscale_all_dim; the rotated values then keep their
    // magnitude (mscale = mscale_all_dim: DeepSeek-V3's 1 and 1, V2's 0.707 and 0.707).
    r.mscale_all_dim = static_cast<float>(log_mul / 0.1);
    if (r.attention_factor == 0.0f) r.attention_factor = 1.0f;
  }
  set_latent_heads(m, RopeStyle::AdjacentPairs);  // llama.cpp's "normal" RoPE on the stored dims
  // Files without expert_gating_func: softmax (DeepSeek-V2), except GLM-4.7-Flash's shape (47 layers
  // and its 154880-token vocabulary), as llama.cpp decides.
  const bool glm47 = (m.num_layers == 47 || m.num_layers == 48) && m.vocab_size == 154880;
  grouped_moe_from_gguf(f, m, glm47 ? MoeRouting::SigmoidGroupTopK : MoeRouting::SoftmaxTopK);
}

// llama.cpp's converter for the absorbed form: one kv head whose key/value_length are the latent
// row's and the value's widths, the heads' sizes in *_length_mla, DeepSeek's YaRN mscale_all_dim as
// 0.1 x it, and the grouped MoE's own keys.
void deepseek2_to_gguf(const ModelConfig& c, GgufWriter& w) {
  const std::string p = "deepseek2.";
  const MlaConfig& a = c.mla;
  w.set_u32(p + "attention.head_count_kv", 1);
  w.set_u32(p + "attention.key_length", static_cast<uint32_t>(a.kv_lora_rank + a.qk_rope_head_dim));
  w.set_u32(p + "attention.value_length", static_cast<uint32_t>(a.kv_lora_rank));
  w.set_u32(p + "attention.key_length_mla", static_cast<uint32_t>(a.qk_nope_head_dim + a.qk_rope_head_dim));
  w.set_u32(p + "attention.value_length_mla", static_cast<uint32_t>(a.v_head_dim));
  w.set_u32(p + "attention.kv_lora_rank", static_cast<uint32_t>(a.kv_lora_rank));
  if (a.q_lora_rank > 0) w.set_u32(p + "attention.q_lora_rank", static_cast<uint32_t>(a.q_lora_rank));
  if (c.rope.mscale_all_dim != 0.0f) w.set_f32(p + "rope.scaling.yarn_log_multiplier", 0.1f * c.rope.mscale_all_dim);
  grouped_moe_to_gguf(c, w, p);
}

// llama.cpp's names for the latent attention's tensors (k_b_proj / v_b_proj: its converter's split
// of kv_b_proj) and the feed-forward norm.
constexpr TensorNamePair kNames[] = {
    {"ffn_norm", "post_attention_layernorm"},
    {"attn_q_a", "self_attn.q_a_proj"},
    {"attn_q_a_norm", "self_attn.q_a_layernorm"},
    {"attn_q_b", "self_attn.q_b_proj"},
    {"attn_kv_a_mqa", "self_attn.kv_a_proj_with_mqa"},
    {"attn_kv_a_norm", "self_attn.kv_a_layernorm"},
    {"attn_kv_b", "self_attn.kv_b_proj"},
    {"attn_k_b", "self_attn.k_b_proj"},
    {"attn_v_b", "self_attn.v_b_proj"},
};

}  // namespace

// A "deepseek2" GGUF loads as deepseek_v3 (the first of the two in the registry): GLM-4.7-Flash's
// GGUF files are the same architecture.
extern const Architecture kDeepseekV3Arch{{"deepseek_v3"}, {"deepseek2"}, deepseek_v3_hf, deepseek2_gguf, kNames, make,
                                          deepseek2_to_gguf};
extern const Architecture kGlm4MoeLiteArch{{"glm4_moe_lite"}, {"deepseek2"}, glm4_moe_lite_hf, deepseek2_gguf, kNames,
                                           make, deepseek2_to_gguf};

}  // namespace ax
