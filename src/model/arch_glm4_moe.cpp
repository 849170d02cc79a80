// GLM-4.5 (Glm4MoeForCausalLM): a GQA decoder whose heads rotate only their first half
// (partial_rotary_factor 0.5, rotate-half pairing), optional q/k/v biases and per-head q/k norms,
// the first first_k_dense_replace layers dense and the rest mixtures of experts routed by sigmoid
// scores: experts are chosen on score + e_score_correction_bias (within the topk_group best of
// n_group groups) and weighted by their plain scores, renormalised and scaled by
// routed_scaling_factor; n_shared_experts always-on experts (one MLP of their summed width) are
// added. The released checkpoints carry num_nextn_predict_layers multi-token-prediction layers
// after the last one; the forward does not use them.
#include <string>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "model/architecture.h"
#include "model/decoder.h"
#include "util/error.h"

namespace ax {
namespace {

std::unique_ptr<Model> make(const ModelSource& source, Backend& backend) {
  return make_decoder(source, backend, find_llama_tensors);
}

// Marks layers [dense_lead, num_layers) as MoE; dense layers need intermediate_size.
void set_moe_layers(ModelConfig& m, int64_t dense_lead, const std::string& where) {
  if (dense_lead < 0) fail("{}: the count of leading dense layers {} is negative", where, dense_lead);
  for (int64_t l = 0; l < m.num_layers; ++l) m.layers[l].moe = l >= dense_lead;
  if (dense_lead > 0 && m.intermediate_size <= 0) fail("{}: dense layers need the MLP width (intermediate_size)", where);
}

void glm4_moe_hf(const HfFields& c, ModelConfig& m) {
  if (parse_hf_activation(c) != Activation::Silu) fail("{}: hidden_act must be silu for glm4_moe", c.where());
  m.qkv_bias = c.get_bool_or("attention_bias", false);
  m.qk_norm = c.get_bool_or("use_qk_norm", false);
  // transformers' Glm4MoeConfig rotates half of each head unless the config says otherwise.
  const bool partial_given = c.has("partial_rotary_factor") ||
                             (c.has("rope_parameters") && c.at("rope_parameters").contains("partial_rotary_factor"));
  if (!partial_given) {
    m.rope.rotary_dim = static_cast<int>(m.head_dim / 2);
    for (LayerConfig& l : m.layers) l.rope.rotary_dim = m.rope.rotary_dim;
  }
  MoeConfig& e = m.moe;
  e.routing = MoeRouting::SigmoidGroupTopK;
  e.num_experts = c.get_int_or("n_routed_experts", 0);
  e.top_k = c.get_int_or("num_experts_per_tok", 0);
  e.expert_intermediate = c.get_int_or("moe_intermediate_size", 0);
  e.norm_topk_prob = c.get_bool_or("norm_topk_prob", true);
  e.routed_scaling = static_cast<float>(c.get_float_or("routed_scaling_factor", 1.0));
  e.n_group = c.get_int_or("n_group", 1);
  e.topk_group = c.get_int_or("topk_group", 1);
  const int64_t shared = c.get_int_or("n_shared_experts", 1);
  if (shared < 0) fail("{}: field 'n_shared_experts' is negative", c.where());
  e.shared_intermediate = shared * e.expert_intermediate;
  e.validate(c.where());
  set_moe_layers(m, c.get_int_or("first_k_dense_replace", 1), c.where());
}

// llama.cpp's expert_gating_func values.
constexpr int64_t kGatingSoftmax = 1, kGatingSigmoid = 2;

void glm4_moe_gguf(const GgufFile& f, ModelConfig& m) {
  const std::string p = f.get_string("general.architecture") + ".";
  // block_count counts the multi-token-prediction layers stored after the model's own.
  const int64_t nextn = f.get_int_or(p + "nextn_predict_layers", 0);
  if (nextn < 0 || nextn >= m.num_layers)
    fail("{}: metadata key '{}nextn_predict_layers' = {} leaves no layers of {}", f.path(), p, nextn, m.num_layers);
  m.num_layers -= nextn;
  m.layers.resize(static_cast<size_t>(m.num_layers));
  m.qkv_bias = f.tensor("blk.0.attn_q.bias") != nullptr;
  m.qk_norm = f.tensor("blk.0.attn_q_norm.weight") != nullptr;
  MoeConfig& e = m.moe;
  const int64_t gating = f.get_int_or(p + "expert_gating_func", kGatingSigmoid);
  if (gating == kGatingSoftmax) {
    e.routing = MoeRouting::SoftmaxTopK;
  } else if (gating == kGatingSigmoid) {
    e.routing = MoeRouting::SigmoidGroupTopK;
  } else {
    fail("{}: metadata key '{}expert_gating_func' = {} is not softmax (1) or sigmoid (2)", f.path(), p, gating);
  }
  e.num_experts = f.get_int_or(p + "expert_count", 0);
  e.top_k = f.get_int_or(p + "expert_used_count", 0);
  e.expert_intermediate = f.get_int_or(p + "expert_feed_forward_length", 0);
  e.norm_topk_prob = f.get_int_or(p + "expert_weights_norm", 0) != 0;
  e.routed_scaling = static_cast<float>(f.get_float_or(p + "expert_weights_scale", 1.0));
  if (e.routed_scaling == 0.0f) e.routed_scaling = 1.0f;  // llama.cpp's "not set"
  e.n_group = f.get_int_or(p + "expert_group_count", 1);
  e.topk_group = f.get_int_or(p + "expert_group_used_count", 1);
  const int64_t shared = f.get_int_or(p + "expert_shared_count", 0);
  if (shared < 0) fail("{}: metadata key '{}expert_shared_count' is negative", f.path(), p);
  e.shared_intermediate = shared * e.expert_intermediate;
  e.validate(f.path());
  set_moe_layers(m, f.get_int_or(p + "leading_dense_block_count", 0), f.path());
}

void glm4_moe_to_gguf(const ModelConfig& c, GgufWriter& w) {
  const std::string p = "glm4moe.";
  int64_t dense_lead = 0;
  while (dense_lead < c.num_layers && !c.layers[dense_lead].moe) ++dense_lead;
  for (int64_t l = dense_lead; l < c.num_layers; ++l)
    if (!c.layers[l].moe) fail("GGUF export: glm4moe has dense layers only before the first MoE layer (layer {} is dense)", l);
  w.set_u32(p + "leading_dense_block_count", static_cast<uint32_t>(dense_lead));
  w.set_u32(p + "nextn_predict_layers", 0);
}

// llama.cpp stores GLM's pre-feed-forward norm (HF post_attention_layernorm) as
// post_attention_norm.
constexpr TensorNamePair kNames[] = {
    {"post_attention_norm", "post_attention_layernorm"},
};

}  // namespace

extern const Architecture kGlm4MoeArch{{"glm4_moe"}, {"glm4moe"}, glm4_moe_hf, glm4_moe_gguf, kNames, make,
                                 glm4_moe_to_gguf};

}  // namespace ax
