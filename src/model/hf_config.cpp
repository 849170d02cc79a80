#include "model/hf_config.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "model/architecture.h"
#include "model/hf_fields.h"
#include "util/error.h"

namespace ax {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A multimodal checkpoint's config (transformers' *ForConditionalGeneration: Gemma 3 from 4B,
// Qwen3.5) nests the text model's fields under text_config. That part as a text model's own
// config: its model_type where it names one, else the outer one's text counterpart (gemma3 ->
// gemma3_text, qwen3_5 -> qwen3_5_text); token ids and tie_word_embeddings from the outer config
// where text_config has none.
json text_model_config(const json& outer, const std::string& where) {
  json text = outer.at("text_config");
  if (!text.contains("model_type")) {
    if (!outer.contains("model_type") || !outer.at("model_type").is_string())
      fail("{}: neither the config nor its text_config names a model_type", where);
    text["model_type"] = outer.at("model_type").get<std::string>() + "_text";
  }
  for (const char* key : {"tie_word_embeddings", "bos_token_id", "eos_token_id", "pad_token_id"})
    if (!text.contains(key) && outer.contains(key)) text[key] = outer.at(key);
  return text;
}

}  // namespace

ModelConfig parse_hf_config(const json& outer, const json* generation, const std::string& outer_where) {
  if (!outer.is_object()) fail("{}: is not a JSON object", outer_where);
  const bool nested = outer.contains("text_config") && outer.at("text_config").is_object();
  const std::string where = nested ? outer_where + " text_config" : outer_where;
  const json config = nested ? text_model_config(outer, outer_where) : json();
  HfFields c(nested ? config : outer, where);
  ModelConfig m;
  if (!c.has("model_type")) fail("{}: required field 'model_type' is missing", where);
  const Architecture& arch = architecture_for_hf(c.get_string_or("model_type", ""), where);
  m.arch_name = arch.hf_model_types.front();

  // What every decoder has; the architecture's hook checks and completes the rest.
  m.vocab_size = c.get_positive("vocab_size");
  m.hidden_size = c.get_positive("hidden_size");
  m.intermediate_size = c.get_int_or("intermediate_size", 0);
  if (m.intermediate_size < 0) fail("{}: field 'intermediate_size' must not be negative", where);
  m.num_layers = c.get_positive("num_hidden_layers");
  m.num_heads = c.get_positive("num_attention_heads");
  m.num_kv_heads = c.get_int_or("num_key_value_heads", m.num_heads);
  if (m.num_kv_heads <= 0) fail("{}: field 'num_key_value_heads' must be positive, got {}", where, m.num_kv_heads);
  if (m.num_heads % m.num_kv_heads != 0)
    fail("{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", where, m.num_heads,
         m.num_kv_heads);
  // Latent-attention configs (kv_lora_rank) size their heads by qk_nope/qk_rope_head_dim: their
  // architecture sets head_dim (GLM-4.7-Flash: hidden 2048 over 20 heads).
  if (!c.has("head_dim") && !c.has("kv_lora_rank") && m.hidden_size % m.num_heads != 0)
    fail("{}: hidden_size {} is not a multiple of num_attention_heads {} and head_dim is not given",
         where, m.hidden_size, m.num_heads);
  m.head_dim = c.get_int_or("head_dim", m.hidden_size / m.num_heads);
  if (m.head_dim <= 0) fail("{}: field 'head_dim' must be positive, got {}", where, m.head_dim);
  m.max_position_embeddings = c.get_int_or("max_position_embeddings", 0);
  m.rms_norm_eps = static_cast<float>(c.get_float_or("rms_norm_eps", 1e-6));
  m.rope = parse_hf_rope(c, m.head_dim);
  m.rope.style = RopeStyle::RotateHalf;  // HF checkpoints are always rotate-half
  m.tie_word_embeddings = c.get_bool_or("tie_word_embeddings", false);
  m.layers.assign(static_cast<size_t>(m.num_layers), LayerConfig{0, m.rope, false});

  // Special tokens: generation_config.json (what generate() uses) wins over config.json.
  std::vector<int64_t> bos = c.get_int_list("bos_token_id");
  m.eos_token_ids = c.get_int_list("eos_token_id");
  std::vector<int64_t> pad = c.get_int_list("pad_token_id");
  if (generation) {
    if (!generation->is_object()) fail("{}: generation config is not a JSON object", where);
    HfFields g(*generation, where + " generation_config");
    if (g.has("bos_token_id")) bos = g.get_int_list("bos_token_id");
    if (g.has("eos_token_id")) m.eos_token_ids = g.get_int_list("eos_token_id");
    if (g.has("pad_token_id")) pad = g.get_int_list("pad_token_id");
  }
  m.bos_token_id = bos.empty() ? -1 : bos[0];
  m.pad_token_id = pad.empty() ? -1 : pad[0];

  arch.from_hf(c, m);
  return m;
}

ModelConfig load_hf_config(const std::string& dir) {
  auto read = [](const fs::path& p) {
    std::ifstream in(p);
    if (!in) fail("{}: cannot open", p.string());
    try {
      return json::parse(in);
    } catch (const json::exception& e) {
      fail("{}: not valid JSON ({})", p.string(), e.what());
    }
  };
  const fs::path cfg = fs::path(dir) / "config.json";
  json config = read(cfg);
  const fs::path gen = fs::path(dir) / "generation_config.json";
  if (fs::exists(gen)) {
    json generation = read(gen);
    return parse_hf_config(config, &generation, cfg.string());
  }
  return parse_hf_config(config, nullptr, cfg.string());
}

}  // namespace ax
