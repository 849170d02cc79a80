// The Qwen hybrids: Qwen3-Next (qwen3_next), Qwen3.5 (qwen3_5_text) and Qwen3.5/3.6-MoE
// (qwen3_5_moe_text). Layers alternate gated-delta linear attention (model/gated_delta.h; three of
// every four in the released models, layer_types) with gated softmax attention: q_proj gives each
// head a query and an output gate, out = o_proj(attention * sigmoid(gate)); per-head q/k norms;
// RoPE on the first partial_rotary_factor (0.25) of each head. Every RMSNorm multiplies by (1 + w),
// except linear attention's gated norm (plain w). The feed-forward block is a SwiGLU MLP
// (qwen3_5_text) or a mixture of experts routed by softmax top-k (renormalised) plus a shared expert
// scaled by sigmoid(shared_expert_gate . x).
//
// Real Qwen3.5 checkpoints on the Hub are multimodal (text under model.language_model., the
// config's text_config): only the text-only CausalLM layout (prefix model., a flat config) loads.
// Their mrope_section splits RoPE over (time, height, width) positions, which for text are all the
// token's position: the same rotation as plain RoPE.
#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "format/dtype.h"
#include "model/architecture.h"
#include "model/decoder.h"
#include "model/model_source.h"
#include "util/error.h"

namespace ax {
namespace {

std::unique_ptr<Model> make(const ModelSource& source, Backend& backend) {
  return make_decoder(source, backend, find_llama_tensors);
}

// What the three share: layer kinds, linear attention's sizes, gated attention, (1 + w) norms.
void hybrid_hf(const HfFields& c, ModelConfig& m) {
  if (parse_hf_activation(c) != Activation::Silu) fail("{}: hidden_act must be silu for {}", c.where(), m.arch_name);
  if (c.get_bool_or("attention_bias", false))
    fail("{}: attention_bias true (biases on q/k/v/o projections) is not supported for {}", c.where(), m.arch_name);
  m.qk_norm = true;
  m.norm_plus_one = true;
  m.attn_output_gate = true;
  GatedDeltaConfig& g = m.gated_delta;
  g.num_k_heads = c.get_positive("linear_num_key_heads");
  g.num_v_heads = c.get_positive("linear_num_value_heads");
  g.k_head_dim = c.get_positive("linear_key_head_dim");
  g.v_head_dim = c.get_positive("linear_value_head_dim");
  g.conv_kernel = c.get_positive("linear_conv_kernel_dim");
  g.validate(c.where());
  if (c.has("layer_types")) {
    const auto& types = c.at("layer_types");
    if (!types.is_array() || static_cast<int64_t>(types.size()) != m.num_layers)
      fail("{}: field 'layer_types' must list one type for each of the {} layers", c.where(), m.num_layers);
    for (int64_t l = 0; l < m.num_layers; ++l) {
      const std::string t = types[l].is_string() ? types[l].get<std::string>() : "";
      if (t != "linear_attention" && t != "full_attention")
        fail("{}: field 'layer_types' entry {} is '{}'; expected linear_attention or full_attention", c.where(), l,
             types[l].dump());
      m.layers[l].linear_attention = t == "linear_attention";
    }
  } else {  // transformers' default: every full_attention_interval-th layer is full attention
    const int64_t every = c.get_int_or("full_attention_interval", 4);
    if (every <= 0) fail("{}: field 'full_attention_interval' must be positive, got {}", c.where(), every);
    for (int64_t l = 0; l < m.num_layers; ++l) m.layers[l].linear_attention = (l + 1) % every != 0;
  }
}

void moe_hf(const HfFields& c, ModelConfig& m, bool norm_topk_default) {
  m.moe.num_experts = c.get_int_or("num_experts", 0);
  m.moe.top_k = c.get_int_or("num_experts_per_tok", 0);
  m.moe.expert_intermediate = c.get_int_or("moe_intermediate_size", 0);
  m.moe.norm_topk_prob = c.get_bool_or("norm_topk_prob", norm_topk_default);
  m.moe.shared_intermediate = c.get_int_or("shared_expert_intermediate_size", 0);
  m.moe.shared_expert_gate = m.moe.shared_intermediate > 0;
  m.moe.validate(c.where());
}

void qwen3_next_hf(const HfFields& c, ModelConfig& m) {
  hybrid_hf(c, m);
  moe_hf(c, m, true);
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
  for (int64_t l = 0; l < m.num_layers; ++l) {
    m.layers[l].moe = std::find(dense.begin(), dense.end(), l) == dense.end() && (l + 1) % step == 0;
    if (!m.layers[l].moe && m.intermediate_size <= 0) fail("{}: dense layers need 'intermediate_size'", c.where());
  }
}

void qwen3_5_hf(const HfFields& c, ModelConfig& m) {
  hybrid_hf(c, m);
  if (m.intermediate_size <= 0) fail("{}: field 'intermediate_size' must be positive", c.where());
}

void qwen3_5_moe_hf(const HfFields& c, ModelConfig& m) {
  hybrid_hf(c, m);
  moe_hf(c, m, true);  // Qwen3.5-MoE always renormalises the chosen experts' weights
  for (LayerConfig& l : m.layers) l.moe = true;
}

// Rows `rows` of a 2-D tensor, in that order, as a new tensor's bytes.
std::vector<uint8_t> gather_rows(const TensorView& t, const std::vector<int64_t>& rows) {
  const size_t rb = row_bytes(t.dtype, t.cols());
  std::vector<uint8_t> out(rows.size() * rb);
  for (size_t i = 0; i < rows.size(); ++i) std::memcpy(out.data() + i * rb, t.data + rows[i] * rb, rb);
  return out;
}

// Rows [g * group + first, + count) for every group g, group after group.
std::vector<int64_t> strided_rows(int64_t groups, int64_t group, int64_t first, int64_t count) {
  std::vector<int64_t> r;
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t i = 0; i < count; ++i) r.push_back(g * group + first + i);
  return r;
}

// Adds tensor `name` made of rows of t.
void add_rows(ModelSource& src, const std::string& name, const TensorView& t, const std::vector<int64_t>& rows) {
  src.add_owned(name, t.dtype, {static_cast<int64_t>(rows.size()), t.cols()}, gather_rows(t, rows));
}

// The gated attention's q_proj [heads * 2 * head_dim, H] holds per head its query rows, then its
// gate rows: split into self_attn.q_proj and self_attn.q_gate_proj (all heads each).
void split_q_gate(ModelSource& src) {
  const ModelConfig& c = src.config();
  const int64_t nh = c.num_heads, hd = c.head_dim;
  for (int64_t l = 0; l < c.num_layers; ++l) {
    if (c.layers[l].linear_attention) continue;
    const std::string p = fmt::format("model.layers.{}.self_attn.", l);
    const TensorView q = src.get(p + "q_proj.weight", {nh * 2 * hd, c.hidden_size});
    add_rows(src, p + "q_gate_proj.weight", q, strided_rows(nh, 2 * hd, hd, hd));
    add_rows(src, p + "q_proj.weight", q, strided_rows(nh, 2 * hd, 0, hd));
  }
}

void qwen3_5_adapt_hf(ModelSource& src) { split_q_gate(src); }

// Qwen3-Next fuses linear attention's projections per key head: in_proj_qkvz rows are, for each key
// head, [q (dk) | k (dk) | v (r * dv) | z (r * dv)] with r = value heads per key head, and
// in_proj_ba rows [b (r) | a (r)]. Regrouped here into Qwen3.5's in_proj_qkv ([all q | all k |
// all v], the conv's channel order), in_proj_z, in_proj_b and in_proj_a.
void qwen3_next_adapt_hf(ModelSource& src) {
  split_q_gate(src);
  const ModelConfig& c = src.config();
  const GatedDeltaConfig& g = c.gated_delta;
  const int64_t nk = g.num_k_heads, dk = g.k_head_dim, r = g.num_v_heads / nk, rv = r * g.v_head_dim;
  const int64_t group = 2 * dk + 2 * rv, H = c.hidden_size;
  for (int64_t l = 0; l < c.num_layers; ++l) {
    if (!c.layers[l].linear_attention) continue;
    const std::string p = fmt::format("model.layers.{}.linear_attn.", l);
    const TensorView qkvz = src.get(p + "in_proj_qkvz.weight", {nk * group, H});
    const TensorView ba = src.get(p + "in_proj_ba.weight", {nk * 2 * r, H});
    std::vector<int64_t> qkv = strided_rows(nk, group, 0, dk);
    for (const auto& part : {strided_rows(nk, group, dk, dk), strided_rows(nk, group, 2 * dk, rv)})
      qkv.insert(qkv.end(), part.begin(), part.end());
    add_rows(src, p + "in_proj_qkv.weight", qkvz, qkv);
    add_rows(src, p + "in_proj_z.weight", qkvz, strided_rows(nk, group, 2 * dk + rv, rv));
    add_rows(src, p + "in_proj_b.weight", ba, strided_rows(nk, 2 * r, 0, r));
    add_rows(src, p + "in_proj_a.weight", ba, strided_rows(nk, 2 * r, r, r));
    src.remove(p + "in_proj_qkvz.weight");
    src.remove(p + "in_proj_ba.weight");
  }
}

}  // namespace

extern const Architecture kQwen3NextArch{{"qwen3_next"}, {}, qwen3_next_hf, nullptr, {}, make, nullptr,
                                         qwen3_next_adapt_hf};
extern const Architecture kQwen35Arch{{"qwen3_5_text"}, {}, qwen3_5_hf, nullptr, {}, make, nullptr, qwen3_5_adapt_hf};
extern const Architecture kQwen35MoeArch{{"qwen3_5_moe_text"}, {}, qwen3_5_moe_hf, nullptr, {}, make, nullptr,
                                         qwen3_5_adapt_hf};

}  // namespace ax
