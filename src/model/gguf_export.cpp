#include "model/gguf_export.h"

#include <algorithm>
#include <cstring>

#include "model/architecture.h"
#include "model/gguf_config.h"
#include "util/error.h"

namespace ax {

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
  } else if (r.scaling_type != "default") {
    fail("GGUF export: rope scaling '{}' has no GGUF form", r.scaling_type);
  }
  const Architecture& arch = architecture_of(c);
  int64_t window = 0;
  const std::vector<int64_t> windows = c.layer_windows();
  for (int64_t wnd : windows) {
    if (wnd != 0 && window != 0 && wnd != window) fail("GGUF export: layers use different sliding windows");
    if (wnd != 0) window = wnd;
  }
  for (int64_t wnd : windows)
    if (window != 0 && wnd == 0 && arch.to_gguf == nullptr)
      fail("GGUF export: a mix of sliding-window and full-attention layers has no GGUF form for {}", a);
  if (window > 0) w.set_u32(p + "attention.sliding_window", static_cast<uint32_t>(window));
  if (std::any_of(c.layers.begin(), c.layers.end(), [](const LayerConfig& l) { return l.moe; })) {
    w.set_u32(p + "expert_count", static_cast<uint32_t>(c.moe.num_experts));
    w.set_u32(p + "expert_used_count", static_cast<uint32_t>(c.moe.top_k));
    w.set_u32(p + "expert_feed_forward_length", static_cast<uint32_t>(c.moe.expert_intermediate));
  }
  if (arch.to_gguf != nullptr) arch.to_gguf(w, c);
  if (c.bos_token_id >= 0) w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(c.bos_token_id));
  if (!c.eos_token_ids.empty()) w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(c.eos_token_ids[0]));
  if (c.pad_token_id >= 0) w.set_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(c.pad_token_id));
}

void add_hf_tensors(GgufWriter& w, const ModelConfig& c, const std::map<std::string, TensorView>& tensors) {
  const bool permute = gguf_arch_name(c) == "llama";
  const int64_t d = c.head_dim;
  for (const auto& [name, t] : tensors) {
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
}

}  // namespace ax
