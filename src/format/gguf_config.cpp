#include "format/gguf_config.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "format/gguf.h"
#include "util/error.h"

namespace ax {
namespace {

// Per-layer GGUF tensor stems -> HF module paths under model.layers.N.
constexpr std::array<std::pair<const char*, const char*>, 13> kLayerNames{{
    {"attn_norm", "input_layernorm"},
    {"attn_q", "self_attn.q_proj"},
    {"attn_k", "self_attn.k_proj"},
    {"attn_v", "self_attn.v_proj"},
    {"attn_output", "self_attn.o_proj"},
    {"attn_q_norm", "self_attn.q_norm"},
    {"attn_k_norm", "self_attn.k_norm"},
    {"ffn_norm", "post_attention_layernorm"},
    {"ffn_gate", "mlp.gate_proj"},
    {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"},
    // Some converters name the post-attention norm like this (same tensor role).
    {"post_attention_norm", "post_attention_layernorm"},
    {"attn_qkv", "self_attn.qkv_proj"},
}};

// A token id from tokenizer.ggml.*; absent or the u32 "none" value (0xFFFFFFFF) -> -1.
int64_t token_id(const GgufFile& f, const std::string& key) {
  const int64_t v = f.get_int_or(key, -1);
  return (v < 0 || v >= (int64_t{1} << 31)) ? -1 : v;
}

}  // namespace

std::string gguf_to_hf_name(const std::string& name) {
  if (name == "token_embd.weight") return "model.embed_tokens.weight";
  if (name == "output_norm.weight") return "model.norm.weight";
  if (name == "output.weight") return "lm_head.weight";
  // blk.<N>.<stem>.<weight|bias>
  if (name.rfind("blk.", 0) != 0) return name;
  const size_t dot1 = name.find('.', 4);
  if (dot1 == std::string::npos || dot1 == 4) return name;
  const std::string layer = name.substr(4, dot1 - 4);
  for (char c : layer)
    if (c < '0' || c > '9') return name;
  const size_t dot2 = name.rfind('.');
  if (dot2 <= dot1) return name;
  const std::string stem = name.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string suffix = name.substr(dot2);  // ".weight" / ".bias"
  for (const auto& [g, hf] : kLayerNames)
    if (stem == g) return "model.layers." + layer + "." + hf + suffix;
  return name;
}

ModelConfig gguf_model_config(const GgufFile& f) {
  ModelConfig m;
  m.arch_name = f.get_string("general.architecture");
  const std::string& a = m.arch_name;
  if (a == "llama") {
    m.arch = Arch::Llama;
  } else if (a == "mistral") {
    m.arch = Arch::Mistral;
  } else if (a == "qwen2") {
    m.arch = Arch::Qwen2;
  } else if (a == "qwen3") {
    m.arch = Arch::Qwen3;
  } else {
    fail("{}: general.architecture '{}' is not supported (supported: llama, mistral, qwen2, qwen3)",
         f.path(), a);
  }
  const std::string p = a + ".";
  auto positive = [&](const std::string& key, int64_t v) {
    if (v <= 0) fail("{}: metadata key '{}' must be positive, got {}", f.path(), key, v);
    return v;
  };
  m.hidden_size = positive(p + "embedding_length", f.get_int(p + "embedding_length"));
  m.num_layers = positive(p + "block_count", f.get_int(p + "block_count"));
  m.intermediate_size = positive(p + "feed_forward_length", f.get_int(p + "feed_forward_length"));
  m.num_heads = positive(p + "attention.head_count", f.get_int(p + "attention.head_count"));
  m.num_kv_heads = positive(p + "attention.head_count_kv", f.get_int_or(p + "attention.head_count_kv", m.num_heads));
  if (m.num_heads % m.num_kv_heads != 0)
    fail("{}: attention.head_count {} is not a multiple of attention.head_count_kv {}", f.path(),
         m.num_heads, m.num_kv_heads);
  if (!f.find(p + "attention.key_length") && m.hidden_size % m.num_heads != 0)
    fail("{}: embedding_length {} is not a multiple of attention.head_count {}", f.path(), m.hidden_size, m.num_heads);
  m.head_dim = positive(p + "attention.key_length", f.get_int_or(p + "attention.key_length", m.hidden_size / m.num_heads));
  if (f.get_int_or(p + "attention.value_length", m.head_dim) != m.head_dim)
    fail("{}: attention.value_length differs from attention.key_length (not supported)", f.path());
  m.max_position_embeddings = f.get_int_or(p + "context_length", 0);
  m.rms_norm_eps = static_cast<float>(f.get_float_or(p + "attention.layer_norm_rms_epsilon", 1e-5));

  // Vocabulary: the explicit key, else the token list, else the embedding's rows.
  if (f.find(p + "vocab_size")) {
    m.vocab_size = f.get_int(p + "vocab_size");
  } else if (const GgufValue* toks = f.find("tokenizer.ggml.tokens"); toks && toks->type == GgufType::ARRAY) {
    m.vocab_size = static_cast<int64_t>(toks->as_array().items.size());
  } else if (const TensorView* e = f.tensor("token_embd.weight"); e && e->shape.size() == 2) {
    m.vocab_size = e->shape[0];
  }
  positive("vocab size", m.vocab_size);

  RopeConfig& r = m.rope;
  r.style = (m.arch == Arch::Llama || m.arch == Arch::Mistral) ? RopeStyle::AdjacentPairs : RopeStyle::RotateHalf;
  r.theta = static_cast<float>(f.get_float_or(p + "rope.freq_base", 10000.0));
  if (!(r.theta > 0)) fail("{}: metadata key '{}rope.freq_base' must be positive", f.path(), p);
  const int64_t rot = f.get_int_or(p + "rope.dimension_count", m.head_dim);
  if (rot <= 0 || rot > m.head_dim || rot % 2 != 0)
    fail("{}: metadata key '{}rope.dimension_count' is {}, not an even number up to head size {}", f.path(), p,
         rot, m.head_dim);
  r.rotary_dim = rot == m.head_dim ? 0 : static_cast<int>(rot);
  const std::string scaling = f.get_string_or(p + "rope.scaling.type", "none");
  const double factor = f.get_float_or(p + "rope.scaling.factor", f.get_float_or(p + "rope.scale_linear", 1.0));
  if (scaling == "none" && factor == 1.0) {
    r.scaling_type = "default";
  } else if (scaling == "linear" || (scaling == "none" && f.find(p + "rope.scale_linear"))) {
    r.scaling_type = "linear";
    r.factor = static_cast<float>(factor);
  } else if (scaling == "yarn") {
    r.scaling_type = "yarn";
    r.factor = static_cast<float>(factor);
    r.original_max_position = f.get_int_or(p + "rope.scaling.original_context_length", m.max_position_embeddings);
    r.beta_fast = static_cast<float>(f.get_float_or(p + "rope.scaling.yarn_beta_fast", 32.0));
    r.beta_slow = static_cast<float>(f.get_float_or(p + "rope.scaling.yarn_beta_slow", 1.0));
    r.attention_factor = static_cast<float>(f.get_float_or(p + "rope.scaling.attn_factor", 0.0));
  } else if (scaling != "none") {
    fail("{}: metadata key '{}rope.scaling.type' is '{}' (supported: none, linear, yarn)", f.path(), p, scaling);
  }
  if (!(r.factor > 0)) fail("{}: metadata key '{}rope.scaling.factor' must be positive", f.path(), p);

  const int64_t window = f.get_int_or(p + "attention.sliding_window", 0);
  if (window < 0) fail("{}: metadata key '{}attention.sliding_window' is negative", f.path(), p);
  m.layer_window.assign(static_cast<size_t>(m.num_layers), window);

  m.tie_word_embeddings = f.tensor("output.weight") == nullptr;
  m.qkv_bias = f.tensor("blk.0.attn_q.bias") != nullptr;
  if (f.tensor("blk.0.attn_output.bias"))
    fail("{}: tensor 'blk.0.attn_output.bias' (attention output bias) is not supported", f.path());
  m.qk_norm = m.arch == Arch::Qwen3 || f.tensor("blk.0.attn_q_norm.weight") != nullptr;

  m.bos_token_id = token_id(f, "tokenizer.ggml.bos_token_id");
  m.pad_token_id = token_id(f, "tokenizer.ggml.padding_token_id");
  // End of generation: EOS, plus end-of-turn / end-of-message where the file names them.
  for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    const int64_t id = token_id(f, key);
    if (id >= 0 && std::find(m.eos_token_ids.begin(), m.eos_token_ids.end(), id) == m.eos_token_ids.end())
      m.eos_token_ids.push_back(id);
  }
  return m;
}

}  // namespace ax
