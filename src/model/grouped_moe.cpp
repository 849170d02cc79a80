#include "model/grouped_moe.h"

#include <string>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "util/error.h"

namespace ax {
namespace {

// Marks layers [dense_lead, num_layers) as MoE; dense layers need intermediate_size.
void set_moe_layers(ModelConfig& m, int64_t dense_lead, const std::string& where) {
  if (dense_lead < 0) fail("{}: the count of leading dense layers {} is negative", where, dense_lead);
  for (int64_t l = 0; l < m.num_layers; ++l) m.layers[l].moe = l >= dense_lead;
  if (dense_lead > 0 && m.intermediate_size <= 0) fail("{}: dense layers need the MLP width (intermediate_size)", where);
}

// llama.cpp's expert_gating_func values.
constexpr int64_t kGatingSoftmax = 1, kGatingSigmoid = 2;

}  // namespace

void grouped_moe_from_hf(const HfFields& c, ModelConfig& m, const GroupedMoeDefaults& d) {
  MoeConfig& e = m.moe;
  e.routing = MoeRouting::SigmoidGroupTopK;
  e.num_experts = c.get_int_or("n_routed_experts", 0);
  e.top_k = c.get_int_or("num_experts_per_tok", 0);
  e.expert_intermediate = c.get_int_or("moe_intermediate_size", 0);
  e.norm_topk_prob = c.get_bool_or("norm_topk_prob", true);
  e.routed_scaling = static_cast<float>(c.get_float_or("routed_scaling_factor", 1.0));
  e.n_group = c.get_int_or("n_group", d.n_group);
  e.topk_group = c.get_int_or("topk_group", d.topk_group);
  const int64_t shared = c.get_int_or("n_shared_experts", 1);
  if (shared < 0) fail("{}: field 'n_shared_experts' is negative", c.where());
  e.shared_intermediate = shared * e.expert_intermediate;
  e.validate(c.where());
  if (!c.has("mlp_layer_types")) {
    set_moe_layers(m, c.get_int_or("first_k_dense_replace", d.dense_lead), c.where());
    return;
  }
  const nlohmann::json& types = c.at("mlp_layer_types");
  if (!types.is_array() || static_cast<int64_t>(types.size()) != m.num_layers)
    fail("{}: mlp_layer_types must list one entry per layer ({})", c.where(), m.num_layers);
  for (int64_t l = 0; l < m.num_layers; ++l) {
    const nlohmann::json& t = types[l];
    if (t != "dense" && t != "sparse") fail("{}: mlp_layer_types[{}] is not 'dense' or 'sparse'", c.where(), l);
    m.layers[l].moe = t == "sparse";
    if (!m.layers[l].moe && m.intermediate_size <= 0)
      fail("{}: dense layers need the MLP width (intermediate_size)", c.where());
  }
}

void grouped_moe_from_gguf(const GgufFile& f, ModelConfig& m, MoeRouting gating_if_absent) {
  const std::string p = f.get_string("general.architecture") + ".";
  MoeConfig& e = m.moe;
  const int64_t gating = f.get_int_or(p + "expert_gating_func", 0);
  if (gating == 0) {
    e.routing = gating_if_absent;
  } else if (gating == kGatingSoftmax) {
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

void grouped_moe_to_gguf(const ModelConfig& c, GgufWriter& w, const std::string& p) {
  int64_t dense_lead = 0;
  while (dense_lead < c.num_layers && !c.layers[dense_lead].moe) ++dense_lead;
  for (int64_t l = dense_lead; l < c.num_layers; ++l)
    if (!c.layers[l].moe)
      fail("GGUF export: {} has dense layers only before the first MoE layer (layer {} is dense)",
           p.substr(0, p.size() - 1), l);
  w.set_u32(p + "leading_dense_block_count", static_cast<uint32_t>(dense_lead));
  const MoeConfig& e = c.moe;
  if (e.expert_intermediate > 0 && e.shared_intermediate % e.expert_intermediate == 0)
    w.set_u32(p + "expert_shared_count", static_cast<uint32_t>(e.shared_intermediate / e.expert_intermediate));
}

void drop_nextn_layers(const GgufFile& f, ModelConfig& m) {
  const std::string p = f.get_string("general.architecture") + ".";
  const int64_t nextn = f.get_int_or(p + "nextn_predict_layers", 0);
  if (nextn < 0 || nextn >= m.num_layers)
    fail("{}: metadata key '{}nextn_predict_layers' = {} leaves no layers of {}", f.path(), p, nextn, m.num_layers);
  m.num_layers -= nextn;
  m.layers.resize(static_cast<size_t>(m.num_layers));
}

}  // namespace ax
