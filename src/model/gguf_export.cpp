#include "model/gguf_export.h"

#include <cstring>
#include <optional>

#include "model/architecture.h"
#include "model/gguf_config.h"
#include "util/error.h"

namespace ax {
namespace {

// Mixtures of experts in llama.cpp's keys (what grouped_moe_from_gguf and the MoE architectures
// read): sizes, routing, shared experts, and the leading dense layers where they come first.
void write_moe_config(GgufWriter& w, const ModelConfig& c, const std::string& p) {
  int64_t lead = 0;
  bool any = false, dense_first = true;
  for (const LayerConfig& l : c.layers) {
    if (l.moe) any = true;
    else if (any) dense_first = false;
    else ++lead;
  }
  if (!any) return;
  const MoeConfig& e = c.moe;
  w.set_u32(p + "expert_count", static_cast<uint32_t>(e.num_experts));
  w.set_u32(p + "expert_used_count", static_cast<uint32_t>(e.top_k));
  w.set_u32(p + "expert_feed_forward_length", static_cast<uint32_t>(e.expert_intermediate));
  if (e.shared_intermediate % e.expert_intermediate != 0)
    fail("GGUF export: a shared expert of width {} is not a whole number of experts of {}", e.shared_intermediate,
         e.expert_intermediate);
  w.set_u32(p + "expert_shared_count", static_cast<uint32_t>(e.shared_intermediate / e.expert_intermediate));
  w.set_bool(p + "expert_weights_norm", e.norm_topk_prob);
  w.set_f32(p + "expert_weights_scale", e.routed_scaling);
  // llama.cpp's expert_gating_func: 1 softmax, 2 sigmoid.
  if (e.routing == MoeRouting::SoftmaxTopK) w.set_u32(p + "expert_gating_func", 1);
  if (e.routing == MoeRouting::SigmoidGroupTopK) w.set_u32(p + "expert_gating_func", 2);
  w.set_u32(p + "expert_group_count", static_cast<uint32_t>(e.n_group));
  w.set_u32(p + "expert_group_used_count", static_cast<uint32_t>(e.topk_group));
  if (dense_first) w.set_u32(p + "leading_dense_block_count", static_cast<uint32_t>(lead));
}

// Latent attention as llama.cpp's converter writes it for the absorbed form: one kv head whose
// key/value_length are the latent row's and value's widths, the heads' own sizes in *_length_mla,
// DeepSeek's YaRN mscale_all_dim as 0.1 x it.
void write_mla_config(GgufWriter& w, const ModelConfig& c, const std::string& p) {
  const MlaConfig& a = c.mla;
  w.set_u32(p + "attention.head_count_kv", 1);
  w.set_u32(p + "attention.key_length", static_cast<uint32_t>(a.kv_lora_rank + a.qk_rope_head_dim));
  w.set_u32(p + "attention.value_length", static_cast<uint32_t>(a.kv_lora_rank));
  w.set_u32(p + "attention.key_length_mla", static_cast<uint32_t>(a.qk_nope_head_dim + a.qk_rope_head_dim));
  w.set_u32(p + "attention.value_length_mla", static_cast<uint32_t>(a.v_head_dim));
  w.set_u32(p + "attention.kv_lora_rank", static_cast<uint32_t>(a.kv_lora_rank));
  if (a.q_lora_rank > 0) w.set_u32(p + "attention.q_lora_rank", static_cast<uint32_t>(a.q_lora_rank));
  if (c.rope.mscale_all_dim != 0.0f) w.set_f32(p + "rope.scaling.yarn_log_multiplier", 0.1f * c.rope.mscale_all_dim);
}

// "model.layers.L.mlp.experts.E.X" -> ("model.layers.L.mlp.experts.X", E): one expert's tensor and
// the name of the 3-D tensor that holds every expert's.
std::optional<std::pair<std::string, int64_t>> split_expert_name(const std::string& name) {
  const std::string key = ".mlp.experts.";
  const size_t at = name.find(key);
  if (at == std::string::npos) return std::nullopt;
  const size_t b = at + key.size(), e = name.find('.', b);
  if (e == std::string::npos || e == b || name.find_first_not_of("0123456789", b) != e) return std::nullopt;
  return std::pair{name.substr(0, b) + name.substr(e + 1), std::stoll(name.substr(b, e - b))};
}

// Every expert's tensor of one kind stacked into [experts, rows, cols], in expert order.
void add_stacked_experts(GgufWriter& w, const std::string& gname, const std::map<int64_t, const TensorView*>& experts) {
  const TensorView& first = *experts.begin()->second;
  std::vector<uint8_t> bytes;
  int64_t next = 0;
  for (const auto& [e, t] : experts) {
    if (e != next++ || t->dtype != first.dtype || t->shape != first.shape)
      fail("GGUF export: expert {} of '{}' is missing or differs in type or shape from expert 0", next - 1, gname);
    bytes.insert(bytes.end(), t->data, t->data + t->nbytes);
  }
  w.add_tensor(gname, first.dtype, {next, first.shape[0], first.shape[1]}, std::move(bytes));
}

// kv_b_proj [nh * (nope + v), c] split per head into attn_k_b [nh, c, nope] (each head's k_nope rows
// transposed) and attn_v_b [nh, v, c], as llama.cpp's converter writes them for the absorbed form.
void add_split_kv_b(GgufWriter& w, const ModelConfig& c, const std::string& name, const TensorView& t) {
  const MlaConfig& a = c.mla;
  const int64_t nh = c.num_heads, lat = a.kv_lora_rank, nope = a.qk_nope_head_dim, v = a.v_head_dim;
  const size_t es = dtype_info(t.dtype).block_size == 1 ? dtype_info(t.dtype).type_size : 0;
  if (es == 0) fail("GGUF export: tensor '{}' of type {} cannot be transposed per head", name, dtype_name(t.dtype));
  if (t.shape != std::vector<int64_t>{nh * (nope + v), lat}) fail("GGUF export: tensor '{}' has an unexpected shape", name);
  std::vector<uint8_t> kb(static_cast<size_t>(nh * lat * nope) * es), vb(static_cast<size_t>(nh * v * lat) * es);
  for (int64_t h = 0; h < nh; ++h) {
    const uint8_t* head = t.data + static_cast<size_t>(h * (nope + v) * lat) * es;
    for (int64_t i = 0; i < nope; ++i)
      for (int64_t j = 0; j < lat; ++j)
        std::memcpy(kb.data() + static_cast<size_t>((h * lat + j) * nope + i) * es, head + static_cast<size_t>(i * lat + j) * es, es);
    std::memcpy(vb.data() + static_cast<size_t>(h * v * lat) * es, head + static_cast<size_t>(nope * lat) * es,
                static_cast<size_t>(v * lat) * es);
  }
  const Architecture& arch = architecture_of(c);
  const size_t at = name.rfind("kv_b_proj");
  w.add_tensor(hf_to_gguf_name(arch, name.substr(0, at) + "k_b_proj" + name.substr(at + 9)), t.dtype, {nh, lat, nope},
               std::move(kb));
  w.add_tensor(hf_to_gguf_name(arch, name.substr(0, at) + "v_b_proj" + name.substr(at + 9)), t.dtype, {nh, v, lat},
               std::move(vb));
}

}  // namespace

std::string gguf_arch_name(const ModelConfig& c) {
  if (c.arch_name == "mistral") return "llama";  // as llama.cpp's converter writes Mistral checkpoints
  return architecture_of(c).gguf_archs.front();
}

void write_model_config(GgufWriter& w, const ModelConfig& c) {
  const std::string a = gguf_arch_name(c);
  const std::string p = a + ".";
  w.set_string("general.architecture", a);
  w.set_u32(p + "vocab_size", static_cast<uint32_t>(c.vocab_size));
  w.set_u32(p + "context_length", static_cast<uint32_t>(c.max_position_embeddings));
  w.set_u32(p + "embedding_length", static_cast<uint32_t>(c.hidden_size));
  w.set_u32(p + "block_count", static_cast<uint32_t>(c.num_layers));
  w.set_u32(p + "feed_forward_length", static_cast<uint32_t>(c.intermediate_size));
  w.set_u32(p + "attention.head_count", static_cast<uint32_t>(c.num_heads));
  w.set_u32(p + "attention.head_count_kv", static_cast<uint32_t>(c.num_kv_heads));
  if (c.mla.enabled()) {
    write_mla_config(w, c, p);
  } else {
    w.set_u32(p + "attention.key_length", static_cast<uint32_t>(c.head_dim));
    w.set_u32(p + "attention.value_length", static_cast<uint32_t>(c.head_dim));
  }
  w.set_f32(p + "attention.layer_norm_rms_epsilon", c.rms_norm_eps);
  write_moe_config(w, c, p);
  const RopeConfig& r = c.rope;
  const int64_t rot = r.rotary_dim > 0 ? r.rotary_dim : c.head_dim;
  w.set_f32(p + "rope.freq_base", r.theta);
  w.set_u32(p + "rope.dimension_count", static_cast<uint32_t>(rot));
  if (r.scaling_type == "linear") {
    w.set_string(p + "rope.scaling.type", "linear");
    w.set_f32(p + "rope.scaling.factor", r.factor);
  } else if (r.scaling_type == "yarn") {
    w.set_string(p + "rope.scaling.type", "yarn");
    w.set_f32(p + "rope.scaling.factor", r.factor);
    w.set_u32(p + "rope.scaling.original_context_length", static_cast<uint32_t>(r.original_max_position));
    w.set_f32(p + "rope.scaling.yarn_beta_fast", r.beta_fast);
    w.set_f32(p + "rope.scaling.yarn_beta_slow", r.beta_slow);
    if (r.attention_factor > 0) w.set_f32(p + "rope.scaling.attn_factor", r.attention_factor);
  } else if (r.scaling_type == "llama3") {
    w.add_tensor("rope_freqs.weight", DType::F32, {rot / 2}, llama3_rope_factors(r, rot));
  } else if (r.scaling_type != "default") {
    fail("GGUF export: rope scaling '{}' has no GGUF form", r.scaling_type);
  }
  int64_t window = 0;
  const std::vector<int64_t> windows = c.layer_windows();
  for (int64_t wnd : windows) {
    if (wnd != 0 && window != 0 && wnd != window) fail("GGUF export: layers use different sliding windows");
    if (wnd != 0) window = wnd;
  }
  for (int64_t wnd : windows)
    if (window != 0 && wnd == 0) fail("GGUF export: a mix of sliding-window and full-attention layers has no GGUF form");
  if (window > 0) w.set_u32(p + "attention.sliding_window", static_cast<uint32_t>(window));
  if (c.bos_token_id >= 0) w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(c.bos_token_id));
  if (!c.eos_token_ids.empty()) w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(c.eos_token_ids[0]));
  if (c.pad_token_id >= 0) w.set_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(c.pad_token_id));
}

void add_hf_tensors(GgufWriter& w, const ModelConfig& c, const std::map<std::string, TensorView>& tensors) {
  const bool permute = gguf_arch_name(c) == "llama";
  const int64_t d = c.head_dim;
  std::map<std::string, std::map<int64_t, const TensorView*>> experts;  // stacked name -> expert -> tensor
  for (const auto& [name, t] : tensors) {
    if (auto e = split_expert_name(name)) {
      experts[e->first][e->second] = &t;
      continue;
    }
    if (c.mla.enabled() && name.ends_with("self_attn.kv_b_proj.weight")) {
      add_split_kv_b(w, c, name, t);
      continue;
    }
    const std::string gname = hf_to_gguf_name(architecture_of(c), name);
    const bool is_qk = name.find("self_attn.q_proj.") != std::string::npos || name.find("self_attn.k_proj.") != std::string::npos;
    if (!permute || !is_qk) {
      w.add_tensor_view(t, gname);
      continue;
    }
    // Rows of each head: HF (half j, index k) -> GGUF row 2k + j. Biases are one "row" per
    // value, so the same permutation applies with 1-value rows.
    const int64_t rows = t.shape[0];
    if (rows % d != 0) fail("GGUF export: tensor '{}' has {} rows, not a multiple of head_dim {}", name, rows, d);
    const size_t row_size = t.nbytes / static_cast<size_t>(rows);
    std::vector<uint8_t> out(t.nbytes);
    for (int64_t h = 0; h < rows / d; ++h)
      for (int64_t j = 0; j < 2; ++j)
        for (int64_t k = 0; k < d / 2; ++k)
          std::memcpy(out.data() + static_cast<size_t>(h * d + 2 * k + j) * row_size,
                      t.data + static_cast<size_t>(h * d + j * (d / 2) + k) * row_size, row_size);
    w.add_tensor(gname, t.dtype, t.shape, std::move(out));
  }
  for (const auto& [stacked, each] : experts) add_stacked_experts(w, hf_to_gguf_name(architecture_of(c), stacked), each);
}

}  // namespace ax
