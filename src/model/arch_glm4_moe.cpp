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
#include "model/grouped_moe.h"
#include "util/error.h"

namespace ax {
namespace {

std::unique_ptr<Model> make(const ModelSource& source, Backend& backend) {
  return make_decoder(source, backend, find_llama_tensors);
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
  grouped_moe_from_hf(c, m, GroupedMoeDefaults{});
}

void glm4_moe_gguf(const GgufFile& f, ModelConfig& m) {
  drop_nextn_layers(f, m);
  m.qkv_bias = f.tensor("blk.0.attn_q.bias") != nullptr;
  m.qk_norm = f.tensor("blk.0.attn_q_norm.weight") != nullptr;
  grouped_moe_from_gguf(f, m, MoeRouting::SigmoidGroupTopK);
}

void glm4_moe_to_gguf(const ModelConfig& c, GgufWriter& w) {
  grouped_moe_to_gguf(c, w, "glm4moe.");
  w.set_u32("glm4moe.nextn_predict_layers", 0);
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
