#pragma once
// The config of DeepSeek-style mixtures of experts (GLM-4.5, DeepSeek-V3, GLM-4.7-Flash): sigmoid
// router scores with a selection bias (e_score_correction_bias), the choice limited to the
// topk_group best of n_group groups, kept weights renormalised (norm_topk_prob) and scaled by
// routed_scaling_factor, n_shared_experts always-on experts, and the first layers dense. Read from
// a Hugging Face config.json or from llama.cpp's GGUF keys.
#include <cstdint>
#include <string>

#include "model/config.h"
#include "model/hf_fields.h"

namespace ax {

class GgufFile;
class GgufWriter;

// Values transformers' config class assumes when config.json leaves a field out.
struct GroupedMoeDefaults {
  int64_t dense_lead = 1;  // first_k_dense_replace
  int64_t n_group = 1, topk_group = 1;
};

// n_routed_experts, num_experts_per_tok, moe_intermediate_size, norm_topk_prob,
// routed_scaling_factor, n_group, topk_group, n_shared_experts; the first first_k_dense_replace
// layers dense, or per layer from mlp_layer_types ("dense" / "sparse") where the config has it.
void grouped_moe_from_hf(const HfFields& c, ModelConfig& m, const GroupedMoeDefaults& d);

// llama.cpp's keys: expert_count, expert_used_count, expert_feed_forward_length,
// expert_weights_norm, expert_weights_scale, expert_group_count, expert_group_used_count,
// expert_shared_count, leading_dense_block_count and expert_gating_func (1 softmax, 2 sigmoid;
// `gating_if_absent` where the file has none).
void grouped_moe_from_gguf(const GgufFile& f, ModelConfig& m, MoeRouting gating_if_absent);

// The keys of these mixtures beyond the common MoE ones (model/gguf_export.h writes those), under
// prefix p ("deepseek2."): leading_dense_block_count (throws when a dense layer follows an MoE
// layer) and expert_shared_count, which llama.cpp's deepseek2 requires even when 0.
void grouped_moe_to_gguf(const ModelConfig& c, GgufWriter& w, const std::string& p);

// llama.cpp counts the multi-token-prediction layers stored after the model's own in block_count
// (nextn_predict_layers); the forward pass does not use them.
void drop_nextn_layers(const GgufFile& f, ModelConfig& m);

}  // namespace ax
