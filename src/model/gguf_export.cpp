#include "model/gguf_export.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "format/dequant.h"
#include "model/architecture.h"
#include "model/gguf_config.h"
#include "util/error.h"

namespace ax {

std::string gguf_arch_name(const ModelConfig& c) {
  if (c.arch_name == "mistral") return "llama";  // as llama.cpp's converter writes Mistral checkpoints
  const Architecture& a = architecture_of(c);
  if (a.gguf_archs.empty()) fail("{} models cannot be written as GGUF yet", c.arch_name);
  return a.gguf_archs.front();
}

namespace {

// llama.cpp's expert_gating_func values.
constexpr uint32_t kGatingSoftmax = 1, kGatingSigmoid = 2;

// The mixture-of-experts keys llama.cpp's MoE architectures share.
void write_moe_config(GgufWriter& w, const std::string& p, const ModelConfig& c) {
  if (std::none_of(c.layers.begin(), c.layers.end(), [](const LayerConfig& l) { return l.moe; })) return;
  const MoeConfig& e = c.moe;
  w.set_u32(p + "expert_count", static_cast<uint32_t>(e.num_experts));
  w.set_u32(p + "expert_used_count", static_cast<uint32_t>(e.top_k));
  w.set_u32(p + "expert_feed_forward_length", static_cast<uint32_t>(e.expert_intermediate));
  w.set_bool(p + "expert_weights_norm", e.norm_topk_prob);
  if (e.routed_scaling != 1.0f) w.set_f32(p + "expert_weights_scale", e.routed_scaling);
  switch (e.routing) {
    case MoeRouting::SoftmaxTopK: w.set_u32(p + "expert_gating_func", kGatingSoftmax); break;
    case MoeRouting::SigmoidGroupTopK: w.set_u32(p + "expert_gating_func", kGatingSigmoid); break;
    case MoeRouting::TopKSoftmax: break;  // implied by the architecture (gpt-oss)
  }
  if (e.n_group > 1) {
    w.set_u32(p + "expert_group_count", static_cast<uint32_t>(e.n_group));
    w.set_u32(p + "expert_group_used_count", static_cast<uint32_t>(e.topk_group));
  }
  if (e.shared_intermediate > 0 && e.shared_expert_gate) {
    // Qwen's gated shared expert: llama.cpp's Qwen MoE architectures read its width.
    w.set_u32(p + "expert_shared_feed_forward_length", static_cast<uint32_t>(e.shared_intermediate));
  } else if (e.shared_intermediate > 0) {
    if (e.shared_intermediate % e.expert_intermediate != 0)
      fail("GGUF export: a shared expert of width {} is not a whole number of experts of width {}",
           e.shared_intermediate, e.expert_intermediate);
    w.set_u32(p + "expert_shared_count", static_cast<uint32_t>(e.shared_intermediate / e.expert_intermediate));
  }
}

}  // namespace

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
  w.set_u32(p + "attention.key_length", static_cast<uint32_t>(c.head_dim));
  w.set_u32(p + "attention.value_length", static_cast<uint32_t>(c.head_dim));
  w.set_f32(p + "attention.layer_norm_rms_epsilon", c.rms_norm_eps);
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
  } else if (r.scaling_type != "default" && r.scaling_type != "proportional") {
    // (proportional: the architecture writes its form, Gemma 4's rope_freqs)
    fail("GGUF export: rope scaling '{}' has no GGUF form", r.scaling_type);
  }
  // Sliding windows: one width for the sliding layers; which layers slide is a per-layer list
  // (llama.cpp's attention.sliding_window_pattern) when some do not.
  int64_t window = 0;
  const std::vector<int64_t> windows = c.layer_windows();
  std::vector<bool> sliding;
  for (int64_t wnd : windows) {
    if (wnd != 0 && window != 0 && wnd != window) fail("GGUF export: layers use different sliding windows");
    if (wnd != 0) window = wnd;
    sliding.push_back(wnd != 0);
  }
  if (window > 0) {
    w.set_u32(p + "attention.sliding_window", static_cast<uint32_t>(window));
    if (std::find(sliding.begin(), sliding.end(), false) != sliding.end())
      w.set_bools(p + "attention.sliding_window_pattern", sliding);
  }
  // The sliding layers' own RoPE base (Gemma 3); whether their RoPE is scaled is the
  // architecture's convention in llama.cpp (Gemma 3: not; gpt-oss: as the full layers).
  float swa_theta = 0.0f;
  for (const LayerConfig& l : c.layers)
    if (l.window > 0) {
      if (swa_theta != 0.0f && l.rope.theta != swa_theta) fail("GGUF export: sliding layers with different RoPE bases");
      swa_theta = l.rope.theta;
    }
  if (swa_theta != 0.0f && swa_theta != r.theta) w.set_f32(p + "rope.freq_base_swa", swa_theta);
  if (c.attn_softcap > 0) w.set_f32(p + "attn_logit_softcapping", c.attn_softcap);
  if (c.final_softcap > 0) w.set_f32(p + "final_logit_softcapping", c.final_softcap);
  write_moe_config(w, p, c);
  if (const Architecture& arch = architecture_of(c); arch.to_gguf != nullptr) arch.to_gguf(c, w);
  if (c.bos_token_id >= 0) w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(c.bos_token_id));
  if (!c.eos_token_ids.empty()) w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(c.eos_token_ids[0]));
  if (c.pad_token_id >= 0) w.set_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(c.pad_token_id));
}

namespace {

// "model.layers.3.mlp.experts.5.up_proj.weight" -> expert 5 of "model.layers.3.mlp.experts.up_proj.weight"
// (the name of all experts stacked); -1 for other names.
int64_t expert_index(const std::string& name, std::string* stacked) {
  const std::string key = ".mlp.experts.";
  const size_t at = name.find(key);
  if (at == std::string::npos) return -1;
  const size_t first = at + key.size();
  size_t end = first;
  while (end < name.size() && name[end] >= '0' && name[end] <= '9') ++end;
  if (end == first || end >= name.size() || name[end] != '.') return -1;
  *stacked = name.substr(0, first) + name.substr(end + 1);
  return std::stoll(name.substr(first, end - first));
}

// Experts stored one tensor each (Hugging Face) become one [experts, rows, cols] tensor (GGUF).
void add_stacked_experts(GgufWriter& w, const Architecture& arch,
                         const std::map<std::string, std::map<int64_t, const TensorView*>>& experts) {
  for (const auto& [stacked, parts] : experts) {
    const TensorView& first = *parts.begin()->second;
    if (parts.begin()->first != 0 || parts.rbegin()->first != static_cast<int64_t>(parts.size()) - 1)
      fail("GGUF export: the experts of '{}' are not numbered 0..{}", stacked, parts.size() - 1);
    std::vector<uint8_t> bytes;
    bytes.reserve(first.nbytes * parts.size());
    for (const auto& [e, t] : parts) {
      if (t->dtype != first.dtype || t->shape != first.shape)
        fail("GGUF export: expert {} of '{}' differs in type or shape from expert 0", e, stacked);
      bytes.insert(bytes.end(), t->data, t->data + t->nbytes);
    }
    std::vector<int64_t> shape = first.shape;
    shape.insert(shape.begin(), static_cast<int64_t>(parts.size()));
    w.add_tensor(hf_to_gguf_name(arch, stacked), first.dtype, shape, std::move(bytes));
  }
}

// Latent attention's kv_b_proj [nh * (nope + v), c] split per head into attn_k_b [nh, c, nope] (each
// head's k_nope rows transposed) and attn_v_b [nh, v, c], as llama.cpp's converter writes them for
// the absorbed form.
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

// A float norm weight plus one: llama.cpp's converter stores Gemma's (1 + w) norms that way.
std::vector<float> plus_one(const TensorView& t) {
  std::vector<float> v = dequantize(t);
  for (float& x : v) x += 1.0f;
  return v;
}

}  // namespace

void add_hf_tensors(GgufWriter& w, const ModelConfig& c, const std::map<std::string, TensorView>& tensors) {
  const Architecture& arch = architecture_of(c);
  const bool permute = gguf_arch_name(c) == "llama";
  const int64_t d = c.head_dim;
  std::map<std::string, std::map<int64_t, const TensorView*>> experts;
  for (const auto& [name, t] : tensors) {
    if (arch.add_gguf_tensor != nullptr && arch.add_gguf_tensor(w, c, name, t, tensors)) continue;
    std::string stacked;
    if (const int64_t e = expert_index(name, &stacked); e >= 0) {
      experts[stacked][e] = &t;
      continue;
    }
    if (c.mla.enabled() && name.ends_with("self_attn.kv_b_proj.weight")) {
      add_split_kv_b(w, c, name, t);
      continue;
    }
    if (c.norm_plus_one && name.ends_with("norm.weight")) {
      w.add_tensor(hf_to_gguf_name(arch, name), t.dtype, t.shape, plus_one(t));
      continue;
    }
    const std::string gname = hf_to_gguf_name(arch, name);
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
  add_stacked_experts(w, arch, experts);
}

}  // namespace ax
