// The Qwen hybrids: Qwen3-Next (qwen3_next), Qwen3.5 (qwen3_5_text) and Qwen3.5/3.6-MoE
// (qwen3_5_moe_text). Layers alternate gated-delta linear attention (model/gated_delta.h; three of
// every four in the released models, layer_types) with gated softmax attention: q_proj gives each
// head a query and an output gate, out = o_proj(attention * sigmoid(gate)); per-head q/k norms;
// RoPE on the first partial_rotary_factor (0.25) of each head. Every RMSNorm multiplies by (1 + w),
// except linear attention's gated norm (plain w). The feed-forward block is a SwiGLU MLP
// (qwen3_5_text) or a mixture of experts routed by softmax top-k (renormalised) plus a shared expert
// scaled by sigmoid(shared_expert_gate . x).
//
// Qwen3.5's released checkpoints are multimodal (the text model is read from them, model_source.h).
// Their mrope_section splits RoPE over (time, height, width) positions, which for text are all the
// token's position: the same rotation as plain RoPE.
//
// GGUF: llama.cpp's qwen3next, qwen35 and qwen35moe, as its converter writes them: norms stored as
// 1 + w (all but the gated norm), A_log as ssm_a = -exp(A_log), the conv kernel squeezed to
// [channels, kernel], the gated attention's q_proj as it is (query and gate rows per head), Qwen3-Next's
// linear projections as attn_qkv ([all q | all k | all v]), attn_gate (z) and the fused ssm_ba (per
// key head [b | a]); Qwen3.5's as attn_qkv, attn_gate, ssm_beta, ssm_alpha with the value heads
// reordered from grouped by key head to tiled (GatedDeltaConfig::v_heads_tiled).
#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "format/dequant.h"
#include "format/dtype.h"
#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "model/architecture.h"
#include "model/decoder.h"
#include "model/gguf_export.h"
#include "model/grouped_moe.h"
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

// Qwen3-Next's in_proj_ba [nk * 2r, H], per key head [b (r) | a (r)], split into in_proj_b and
// in_proj_a [nv, H].
void split_ba(ModelSource& src, const std::string& p) {
  const ModelConfig& c = src.config();
  const int64_t nk = c.gated_delta.num_k_heads, r = c.gated_delta.num_v_heads / nk;
  const TensorView ba = src.get(p + "in_proj_ba.weight", {nk * 2 * r, c.hidden_size});
  add_rows(src, p + "in_proj_b.weight", ba, strided_rows(nk, 2 * r, 0, r));
  add_rows(src, p + "in_proj_a.weight", ba, strided_rows(nk, 2 * r, r, r));
  src.remove(p + "in_proj_ba.weight");
}

// Qwen3-Next fuses linear attention's projections per key head: in_proj_qkvz rows are, for each key
// head, [q (dk) | k (dk) | v (r * dv) | z (r * dv)] with r = value heads per key head, and
// in_proj_ba rows [b (r) | a (r)]. Regrouped here into Qwen3.5's in_proj_qkv ([all q | all k |
// all v], the conv's channel order), in_proj_z, in_proj_b and in_proj_a.
void split_qkvz(ModelSource& src, const std::string& p) {
  const ModelConfig& c = src.config();
  const GatedDeltaConfig& g = c.gated_delta;
  const int64_t nk = g.num_k_heads, dk = g.k_head_dim, r = g.num_v_heads / nk, rv = r * g.v_head_dim;
  const int64_t group = 2 * dk + 2 * rv;
  const TensorView qkvz = src.get(p + "in_proj_qkvz.weight", {nk * group, c.hidden_size});
  std::vector<int64_t> qkv = strided_rows(nk, group, 0, dk);
  for (const auto& part : {strided_rows(nk, group, dk, dk), strided_rows(nk, group, 2 * dk, rv)})
    qkv.insert(qkv.end(), part.begin(), part.end());
  add_rows(src, p + "in_proj_qkv.weight", qkvz, qkv);
  add_rows(src, p + "in_proj_z.weight", qkvz, strided_rows(nk, group, 2 * dk + rv, rv));
  src.remove(p + "in_proj_qkvz.weight");
}

void qwen3_next_adapt_hf(ModelSource& src) {
  split_q_gate(src);
  const ModelConfig& c = src.config();
  for (int64_t l = 0; l < c.num_layers; ++l) {
    if (!c.layers[l].linear_attention) continue;
    const std::string p = fmt::format("model.layers.{}.linear_attn.", l);
    split_qkvz(src, p);
    split_ba(src, p);
  }
}

// ---- GGUF ----------------------------------------------------------------------------------------

void hybrid_gguf(const GgufFile& f, ModelConfig& m) {
  const std::string p = f.get_string("general.architecture") + ".";
  drop_nextn_layers(f, m);  // the released models' multi-token-prediction layer, counted in block_count
  m.qk_norm = true;
  m.norm_plus_one = false;  // the converter stored 1 + w
  m.attn_output_gate = true;
  GatedDeltaConfig& g = m.gated_delta;
  g.conv_kernel = f.get_int(p + "ssm.conv_kernel");
  g.k_head_dim = f.get_int(p + "ssm.state_size");
  g.num_k_heads = f.get_int(p + "ssm.group_count");
  g.num_v_heads = f.get_int(p + "ssm.time_step_rank");
  const int64_t inner = f.get_int(p + "ssm.inner_size");
  if (g.num_v_heads <= 0 || inner % g.num_v_heads != 0)
    fail("{}: metadata key '{}ssm.inner_size' {} is not a whole number of {} value heads", f.path(), p, inner,
         g.num_v_heads);
  g.v_head_dim = inner / g.num_v_heads;
  g.validate(f.path());
  const std::string key = p + "attention.recurrent_layers";
  if (const GgufValue* v = f.find(key); v != nullptr && v->type == GgufType::ARRAY) {
    const auto& items = v->as_array().items;
    if (static_cast<int64_t>(items.size()) < m.num_layers)
      fail("{}: metadata key '{}' has {} entries for {} layers", f.path(), key, items.size(), m.num_layers);
    for (int64_t l = 0; l < m.num_layers; ++l) m.layers[l].linear_attention = items[l].as_int() != 0;
  } else {  // llama.cpp's default, as transformers': every full_attention_interval-th layer attends
    const int64_t every = f.get_int_or(p + "full_attention_interval", 4);
    if (every <= 0) fail("{}: metadata key '{}full_attention_interval' must be positive", f.path(), p);
    for (int64_t l = 0; l < m.num_layers; ++l) m.layers[l].linear_attention = (l + 1) % every != 0;
  }
}

void moe_gguf(const GgufFile& f, ModelConfig& m) {
  const std::string p = f.get_string("general.architecture") + ".";
  MoeConfig& e = m.moe;
  e.num_experts = f.get_int_or(p + "expert_count", 0);
  e.top_k = f.get_int_or(p + "expert_used_count", 0);
  e.expert_intermediate = f.get_int_or(p + "expert_feed_forward_length", 0);
  e.norm_topk_prob = true;  // llama.cpp always renormalises for these architectures
  e.shared_intermediate = f.get_int_or(p + "expert_shared_feed_forward_length", 0);
  if (e.shared_intermediate == 0) {  // llama.cpp then takes the shared expert's width from its tensor
    if (const TensorView* up = f.tensor("blk.0.ffn_up_shexp.weight"); up != nullptr) e.shared_intermediate = up->shape[0];
  }
  e.shared_expert_gate = e.shared_intermediate > 0;
  e.validate(f.path());
}

void qwen3_next_gguf(const GgufFile& f, ModelConfig& m) {
  hybrid_gguf(f, m);
  moe_gguf(f, m);
  for (int64_t l = 0; l < m.num_layers; ++l) {
    m.layers[l].moe = f.tensor(fmt::format("blk.{}.ffn_gate_inp.weight", l)) != nullptr;
    if (!m.layers[l].moe && m.intermediate_size <= 0) fail("{}: dense layers need 'feed_forward_length'", f.path());
  }
}

void qwen3_5_gguf(const GgufFile& f, ModelConfig& m) {
  hybrid_gguf(f, m);
  m.gated_delta.v_heads_tiled = true;
  if (m.intermediate_size <= 0) fail("{}: metadata key 'feed_forward_length' must be positive", f.path());
}

void qwen3_5_moe_gguf(const GgufFile& f, ModelConfig& m) {
  hybrid_gguf(f, m);
  m.gated_delta.v_heads_tiled = true;
  moe_gguf(f, m);
  for (LayerConfig& l : m.layers) l.moe = true;
}

// The GGUF forms the engine reads differently: the squeezed conv kernel [C, K] back to HF's
// [C, 1, K], ssm_a (-exp(A_log), a name with no HF counterpart) back to A_log.
void hybrid_adapt_gguf(ModelSource& src) {
  split_q_gate(src);
  const ModelConfig& c = src.config();
  const GatedDeltaConfig& g = c.gated_delta;
  for (int64_t l = 0; l < c.num_layers; ++l) {
    if (!c.layers[l].linear_attention) continue;
    const std::string p = fmt::format("model.layers.{}.linear_attn.", l);
    const TensorView conv = src.get(p + "conv1d.weight", {g.conv_channels(), g.conv_kernel});
    src.add_owned(p + "conv1d.weight", conv.dtype, {g.conv_channels(), 1, g.conv_kernel},
                  std::vector<uint8_t>(conv.data, conv.data + conv.nbytes));
    const std::string ssm_a = fmt::format("blk.{}.ssm_a", l);
    std::vector<float> a = dequantize(src.get(ssm_a, {g.num_v_heads}));
    for (float& x : a) {
      if (!(x < 0)) fail("{}: tensor '{}' holds {}; -exp(A_log) is negative", src.origin(ssm_a), ssm_a, x);
      x = std::log(-x);
    }
    std::vector<uint8_t> bytes(a.size() * sizeof(float));
    std::memcpy(bytes.data(), a.data(), bytes.size());
    src.add_owned(p + "A_log", DType::F32, {g.num_v_heads}, std::move(bytes));
    src.remove(ssm_a);
  }
}

// Qwen3-Next files from llama.cpp's first converter store HF's fused in_proj_qkvz as ssm_in.
void qwen3_next_adapt_gguf(ModelSource& src) {
  hybrid_adapt_gguf(src);
  const ModelConfig& c = src.config();
  for (int64_t l = 0; l < c.num_layers; ++l) {
    if (!c.layers[l].linear_attention) continue;
    const std::string p = fmt::format("model.layers.{}.linear_attn.", l);
    if (src.find(p + "in_proj_qkvz.weight") != nullptr) split_qkvz(src, p);
    split_ba(src, p);
  }
}

void hybrid_to_gguf(const ModelConfig& c, GgufWriter& w) {
  const std::string p = gguf_arch_name(c) + ".";
  const GatedDeltaConfig& g = c.gated_delta;
  w.set_u32(p + "ssm.conv_kernel", static_cast<uint32_t>(g.conv_kernel));
  w.set_u32(p + "ssm.state_size", static_cast<uint32_t>(g.k_head_dim));
  w.set_u32(p + "ssm.group_count", static_cast<uint32_t>(g.num_k_heads));
  w.set_u32(p + "ssm.time_step_rank", static_cast<uint32_t>(g.num_v_heads));
  w.set_u32(p + "ssm.inner_size", static_cast<uint32_t>(g.value_width()));
  std::vector<bool> recurrent;
  for (const LayerConfig& l : c.layers) recurrent.push_back(l.linear_attention);
  w.set_bools(p + "attention.recurrent_layers", recurrent);
  for (int64_t every = 1; every <= c.num_layers; ++every) {  // the interval, where the layers follow one
    bool follows = true;
    for (int64_t l = 0; l < c.num_layers; ++l) follows = follows && recurrent[l] == ((l + 1) % every != 0);
    if (follows) {
      w.set_u32(p + "full_attention_interval", static_cast<uint32_t>(every));
      break;
    }
  }
}

void qwen3_5_to_gguf(const ModelConfig& c, GgufWriter& w) {
  hybrid_to_gguf(c, w);
  // llama.cpp's qwen35 loaders require the M-RoPE sections. Its interleaved M-RoPE gives rotary
  // pair j the position of section j % 3 while j < 3 * sections[j % 3] (else a fourth position,
  // 0 for text): sections counting the pairs of each residue cover every pair, and for Qwen3.5's
  // 32 pairs are its [11, 11, 10]. For text the three positions are the token's: plain RoPE.
  const int32_t pairs = static_cast<int32_t>((c.rope.rotary_dim > 0 ? c.rope.rotary_dim : c.head_dim) / 2);
  w.set_i32s(gguf_arch_name(c) + ".rope.dimension_sections", {(pairs + 2) / 3, (pairs + 1) / 3, pairs / 3, 0});
}

// "model.layers.7.<rest>" -> 7.
int64_t layer_of(const std::string& name) {
  return std::stoll(name.substr(std::strlen("model.layers."), name.find('.', std::strlen("model.layers.")) -
                                                                   std::strlen("model.layers.")));
}

// Source head of each tiled position: position i * nk + k holds grouped head k * r + i.
std::vector<int64_t> tiled_heads(int64_t nk, int64_t r) {
  std::vector<int64_t> heads;
  for (int64_t i = 0; i < r; ++i)
    for (int64_t k = 0; k < nk; ++k) heads.push_back(k * r + i);
  return heads;
}

// The rows [first + h * width, + width) of each head h of `heads`, after rows [0, first) unchanged.
std::vector<int64_t> head_rows(const std::vector<int64_t>& heads, int64_t width, int64_t first) {
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < first; ++i) rows.push_back(i);
  for (int64_t h : heads)
    for (int64_t j = 0; j < width; ++j) rows.push_back(first + h * width + j);
  return rows;
}

// Each row's column blocks of `width` values put in the order of `heads` (out_proj's inputs).
std::vector<uint8_t> gather_column_heads(const TensorView& t, const std::vector<int64_t>& heads, int64_t width) {
  if (width % dtype_info(t.dtype).block_size != 0)
    fail("GGUF export: tensor '{}' of type {} cannot be reordered in heads of {} columns", t.name,
         dtype_name(t.dtype), width);
  const size_t hb = row_bytes(t.dtype, width), rb = row_bytes(t.dtype, t.cols());
  std::vector<uint8_t> out(t.nbytes);
  for (int64_t r = 0; r < t.rows(); ++r)
    for (size_t i = 0; i < heads.size(); ++i)
      std::memcpy(out.data() + r * rb + i * hb, t.data + r * rb + heads[i] * hb, hb);
  return out;
}

std::vector<uint8_t> float_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(float));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// Writes the tensors llama.cpp's converter changes for these architectures (see the file comment).
bool hybrid_add_gguf_tensor(GgufWriter& w, const ModelConfig& c, const std::string& name, const TensorView& t,
                            const std::map<std::string, TensorView>& all) {
  const Architecture& arch = architecture_of(c);
  const GatedDeltaConfig& g = c.gated_delta;
  const std::string gname = hf_to_gguf_name(arch, name);
  auto ends = [&](const char* s) { return name.ends_with(s); };
  if (ends("self_attn.q_gate_proj.weight")) return true;  // written with q_proj
  if (ends("self_attn.q_proj.weight") && c.attn_output_gate) {
    // Per head: its query rows, then its gate rows.
    const TensorView& gate = all.at(name.substr(0, name.size() - std::strlen("q_proj.weight")) + "q_gate_proj.weight");
    const int64_t nh = c.num_heads, hd = c.head_dim;
    const size_t hb = row_bytes(t.dtype, t.cols()) * hd;
    if (gate.dtype != t.dtype || t.shape != gate.shape || t.rows() != nh * hd)
      fail("GGUF export: '{}' and its gate differ in type or shape", name);
    std::vector<uint8_t> out(2 * t.nbytes);
    for (int64_t h = 0; h < nh; ++h) {
      std::memcpy(out.data() + 2 * h * hb, t.data + h * hb, hb);
      std::memcpy(out.data() + (2 * h + 1) * hb, gate.data + h * hb, hb);
    }
    w.add_tensor(gname, t.dtype, {2 * nh * hd, t.cols()}, std::move(out));
    return true;
  }
  if (name.find(".linear_attn.") == std::string::npos) return false;
  const int64_t nk = g.num_k_heads, r = g.num_v_heads / nk;
  // Qwen3.5's value heads go from grouped to tiled (identity when nk == nv).
  const bool tile = gguf_arch_name(c) != "qwen3next" && !g.v_heads_tiled;
  std::vector<int64_t> heads(static_cast<size_t>(g.num_v_heads));
  for (int64_t h = 0; h < g.num_v_heads; ++h) heads[h] = h;
  if (tile) heads = tiled_heads(nk, r);
  const std::string blk = fmt::format("blk.{}.", layer_of(name));
  auto rows = [&](const std::string& out_name, const TensorView& src, int64_t width, int64_t first,
                  std::vector<int64_t> shape) {
    w.add_tensor(out_name, src.dtype, std::move(shape), gather_rows(src, head_rows(heads, width, first)));
  };
  auto per_head = [&](const std::string& out_name, std::vector<float> v) {
    std::vector<float> out;
    for (int64_t h : heads) out.push_back(v[h]);
    w.add_tensor(out_name, DType::F32, {g.num_v_heads}, float_bytes(out));
  };
  if (ends("in_proj_qkv.weight")) {
    rows(gname, t, g.v_head_dim, 2 * g.key_width(), t.shape);
  } else if (ends("in_proj_z.weight")) {
    rows(gname, t, g.v_head_dim, 0, t.shape);
  } else if (ends("in_proj_b.weight") && gguf_arch_name(c) == "qwen3next") {
    // ssm_ba: per key head [b (r) | a (r)].
    const TensorView& a = all.at(name.substr(0, name.size() - std::strlen("b.weight")) + "a.weight");
    const size_t rb = row_bytes(t.dtype, t.cols()) * r;
    std::vector<uint8_t> out(2 * t.nbytes);
    for (int64_t k = 0; k < nk; ++k) {
      std::memcpy(out.data() + 2 * k * rb, t.data + k * rb, rb);
      std::memcpy(out.data() + (2 * k + 1) * rb, a.data + k * rb, rb);
    }
    w.add_tensor(blk + "ssm_ba.weight", t.dtype, {2 * g.num_v_heads, t.cols()}, std::move(out));
  } else if (ends("in_proj_a.weight") && gguf_arch_name(c) == "qwen3next") {
    // written with in_proj_b
  } else if (ends("in_proj_b.weight") || ends("in_proj_a.weight")) {
    rows(gname, t, 1, 0, t.shape);
  } else if (ends("conv1d.weight")) {  // [C, 1, K] -> [C, K], value channels reordered
    rows(gname, t, g.v_head_dim, 2 * g.key_width(), {g.conv_channels(), g.conv_kernel});
  } else if (ends("A_log")) {
    std::vector<float> a = dequantize(t);
    for (float& x : a) x = -std::exp(x);
    per_head(blk + "ssm_a", a);
  } else if (ends("dt_bias")) {
    per_head(gname, dequantize(t));
  } else if (ends("out_proj.weight")) {
    w.add_tensor(gname, t.dtype, t.shape, gather_column_heads(t, heads, g.v_head_dim));
  } else {
    w.add_tensor_view(t, gname);  // the gated norm: plain w, no 1 + w
  }
  return true;
}

constexpr TensorNamePair kNames[] = {
    {"post_attention_norm", "post_attention_layernorm"},
    {"attn_qkv", "linear_attn.in_proj_qkv"},
    {"attn_gate", "linear_attn.in_proj_z"},
    {"ssm_ba", "linear_attn.in_proj_ba"},
    {"ssm_in", "linear_attn.in_proj_qkvz"},
    {"ssm_beta", "linear_attn.in_proj_b"},
    {"ssm_alpha", "linear_attn.in_proj_a"},
    {"ssm_conv1d", "linear_attn.conv1d"},
    {"ssm_dt.bias", "linear_attn.dt_bias"},
    {"ssm_norm", "linear_attn.norm"},
    {"ssm_out", "linear_attn.out_proj"},
    {"ffn_gate_inp_shexp", "mlp.shared_expert_gate"},
    {"ffn_gate_shexp", "mlp.shared_expert.gate_proj"},
    {"ffn_up_shexp", "mlp.shared_expert.up_proj"},
    {"ffn_down_shexp", "mlp.shared_expert.down_proj"},
};

}  // namespace

extern const Architecture kQwen3NextArch{{"qwen3_next"}, {"qwen3next"}, qwen3_next_hf, qwen3_next_gguf, kNames, make,
                                         hybrid_to_gguf, qwen3_next_adapt_hf, qwen3_next_adapt_gguf,
                                         hybrid_add_gguf_tensor};
extern const Architecture kQwen35Arch{{"qwen3_5_text"}, {"qwen35"}, qwen3_5_hf, qwen3_5_gguf, kNames, make,
                                      qwen3_5_to_gguf, qwen3_5_adapt_hf, hybrid_adapt_gguf, hybrid_add_gguf_tensor};
extern const Architecture kQwen35MoeArch{{"qwen3_5_moe_text"}, {"qwen35moe"}, qwen3_5_moe_hf, qwen3_5_moe_gguf, kNames,
                                         make, qwen3_5_to_gguf, qwen3_5_adapt_hf, hybrid_adapt_gguf,
                                         hybrid_add_gguf_tensor};

}  // namespace ax
