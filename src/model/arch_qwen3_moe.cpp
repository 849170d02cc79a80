// Qwen3-MoE: the Qwen3 decoder (per-head q/k norms, SwiGLU) whose feed-forward blocks are mixtures
// of experts: a router picks num_experts_per_tok of num_experts by softmax, renormalised to sum 1
// (norm_topk_prob, as in the released checkpoints), and the picked experts' MLPs are summed with
// those weights. mlp_only_layers and decoder_sparse_step keep some layers dense.
#include <algorithm>

#include "format/gguf.h"
#include "model/architecture.h"
#include "model/decoder.h"
#include "util/error.h"

namespace ax {
namespace {

std::unique_ptr<Model> make(const ModelSource& source, Backend& backend) {
  return make_decoder(source, backend, find_llama_tensors);
}

void qwen3_moe_hf(const HfFields& c, ModelConfig& m) {
  if (parse_hf_activation(c) != Activation::Silu) fail("{}: hidden_act must be silu for qwen3_moe", c.where());
  if (c.get_bool_or("attention_bias", false))
    fail("{}: attention_bias true (biases on q/k/v/o projections) is not supported", c.where());
  if (c.get_bool_or("use_sliding_window", false)) fail("{}: use_sliding_window true is not supported for qwen3_moe", c.where());
  m.qk_norm = true;
  m.moe.num_experts = c.get_int_or("num_local_experts", c.get_int_or("num_experts", 0));
  m.moe.top_k = c.get_int_or("num_experts_per_tok", 0);
  m.moe.expert_intermediate = c.get_int_or("moe_intermediate_size", 0);
  m.moe.norm_topk_prob = c.get_bool_or("norm_topk_prob", false);
  m.moe.validate(c.where());
  const int64_t step = c.get_int_or("decoder_sparse_step", 1);
  if (step <= 0) fail("{}: field 'decoder_sparse_step' must be positive, got {}", c.where(), step);
  std::vector<int64_t> dense;
  if (c.has("mlp_only_layers")) {
    if (!c.at("mlp_only_layers").is_array()) fail("{}: field 'mlp_only_layers' is not a list", c.where());
    for (const auto& v : c.at("mlp_only_layers")) {
      if (!v.is_number_integer()) fail("{}: field 'mlp_only_layers' holds a non-integer", c.where());
      dense.push_back(v.get<int64_t>());
    }
  }
  for (int64_t l = 0; l < m.num_layers; ++l)
    m.layers[l].moe = std::find(dense.begin(), dense.end(), l) == dense.end() && (l + 1) % step == 0;
  for (const LayerConfig& l : m.layers)
    if (!l.moe && m.intermediate_size <= 0)
      fail("{}: dense layers need 'intermediate_size'", c.where());
}

void qwen3_moe_gguf(const GgufFile& f, ModelConfig& m) {
  const std::string p = f.get_string("general.architecture") + ".";
  m.qk_norm = true;
  m.moe.num_experts = f.get_int_or(p + "expert_count", 0);
  m.moe.top_k = f.get_int_or(p + "expert_used_count", 0);
  m.moe.expert_intermediate = f.get_int_or(p + "expert_feed_forward_length", 0);
  m.moe.norm_topk_prob = f.get_int_or(p + "expert_weights_norm", 1) != 0;
  m.moe.validate(f.path());
  for (int64_t l = 0; l < m.num_layers; ++l)
    m.layers[l].moe = f.tensor("blk." + std::to_string(l) + ".ffn_gate_inp.weight") != nullptr;
}

constexpr TensorNamePair kNames[] = {
    {"ffn_norm", "post_attention_layernorm"},
};

}  // namespace

extern const Architecture kQwen3MoeArch{{"qwen3_moe"}, {"qwen3moe"}, qwen3_moe_hf, qwen3_moe_gguf, kNames, make};

}  // namespace ax
