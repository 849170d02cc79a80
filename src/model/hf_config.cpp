#include "model/hf_config.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "util/error.h"

namespace ax {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Typed field access that names the file and field on error. A JSON null counts as absent
// (transformers writes "sliding_window": null, "pad_token_id": null).
class Fields {
 public:
  Fields(const json& j, std::string where) : j_(j), where_(std::move(where)) {}

  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }
  const json& at(const char* key) const { return j_[key]; }

  int64_t get_int(const char* key) const {
    if (!has(key)) fail("{}: required field '{}' is missing", where_, key);
    return to_int(j_[key], key);
  }
  int64_t get_int_or(const char* key, int64_t def) const { return has(key) ? to_int(j_[key], key) : def; }
  double get_float_or(const char* key, double def) const {
    if (!has(key)) return def;
    if (!j_[key].is_number()) fail("{}: field '{}' is not a number", where_, key);
    return j_[key].get<double>();
  }
  bool get_bool_or(const char* key, bool def) const {
    if (!has(key)) return def;
    if (!j_[key].is_boolean()) fail("{}: field '{}' is not true/false", where_, key);
    return j_[key].get<bool>();
  }
  std::string get_string_or(const char* key, const std::string& def) const {
    if (!has(key)) return def;
    if (!j_[key].is_string()) fail("{}: field '{}' is not a string", where_, key);
    return j_[key].get<std::string>();
  }
  // An int or a list of ints (eos_token_id); empty when absent.
  std::vector<int64_t> get_int_list(const char* key) const {
    std::vector<int64_t> out;
    if (!has(key)) return out;
    if (j_[key].is_array()) {
      for (const auto& v : j_[key]) out.push_back(to_int(v, key));
    } else {
      out.push_back(to_int(j_[key], key));
    }
    return out;
  }
  const std::string& where() const { return where_; }

 private:
  int64_t to_int(const json& v, const char* key) const {
    if (v.is_number_integer()) return v.get<int64_t>();
    // Some configs write integral values as floats ("factor": 8.0 is fine, "hidden_size": 64.0 too).
    if (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())))
      return static_cast<int64_t>(v.get<double>());
    fail("{}: field '{}' is not an integer", where_, key);
  }

  const json& j_;
  std::string where_;
};

void require_positive(const std::string& where, const char* key, int64_t v) {
  if (v <= 0) fail("{}: field '{}' must be positive, got {}", where, key, v);
}

// RoPE: theta and scaling from "rope_parameters" (transformers 5), else "rope_theta" and
// "rope_scaling" (transformers 4).
RopeConfig parse_rope(const Fields& c, int64_t head_dim) {
  RopeConfig r;
  const json empty = json::object();
  const json* params = &empty;
  std::string where = c.where();
  if (c.has("rope_parameters")) {
    params = &c.at("rope_parameters");
    where += " rope_parameters";
  } else if (c.has("rope_scaling")) {
    params = &c.at("rope_scaling");
    where += " rope_scaling";
  }
  if (!params->is_object()) fail("{} is not an object", where);
  Fields p(*params, where);
  r.theta = static_cast<float>(p.get_float_or("rope_theta", c.get_float_or("rope_theta", 10000.0)));
  if (!(r.theta > 0)) fail("{}: rope_theta must be positive", where);
  // transformers 4 used "type" before "rope_type".
  r.scaling_type = p.get_string_or("rope_type", p.get_string_or("type", "default"));
  const double partial = p.get_float_or("partial_rotary_factor", c.get_float_or("partial_rotary_factor", 1.0));
  if (!(partial > 0 && partial <= 1)) fail("{}: partial_rotary_factor must be in (0, 1]", where);
  r.rotary_dim = partial == 1.0 ? 0 : static_cast<int>(head_dim * partial);

  auto need = [&](const char* key) {
    if (!p.has(key)) fail("{}: rope type '{}' needs field '{}'", where, r.scaling_type, key);
  };
  if (r.scaling_type == "default") {
    return r;
  } else if (r.scaling_type == "linear") {
    need("factor");
    r.factor = static_cast<float>(p.get_float_or("factor", 1.0));
  } else if (r.scaling_type == "llama3") {
    for (const char* k : {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"})
      need(k);
    r.factor = static_cast<float>(p.get_float_or("factor", 1.0));
    r.low_freq_factor = static_cast<float>(p.get_float_or("low_freq_factor", 1.0));
    r.high_freq_factor = static_cast<float>(p.get_float_or("high_freq_factor", 4.0));
    r.original_max_position = p.get_int("original_max_position_embeddings");
    if (!(r.high_freq_factor > r.low_freq_factor))
      fail("{}: high_freq_factor must exceed low_freq_factor", where);
  } else if (r.scaling_type == "yarn") {
    need("factor");
    r.factor = static_cast<float>(p.get_float_or("factor", 1.0));
    r.original_max_position = p.get_int_or("original_max_position_embeddings", c.get_int_or("max_position_embeddings", 0));
    r.beta_fast = static_cast<float>(p.get_float_or("beta_fast", 32.0));
    r.beta_slow = static_cast<float>(p.get_float_or("beta_slow", 1.0));
    r.attention_factor = static_cast<float>(p.get_float_or("attention_factor", 0.0));
    r.yarn_truncate = p.get_bool_or("truncate", true);
  } else {
    fail("{}: rope type '{}' is not supported (supported: default, linear, llama3, yarn)", where,
         r.scaling_type);
  }
  if (!(r.factor > 0)) fail("{}: rope factor must be positive", where);
  return r;
}

// Per-layer sliding windows (0 = full attention).
std::vector<int64_t> parse_windows(const Fields& c, Arch arch, int64_t num_layers) {
  std::vector<int64_t> windows(static_cast<size_t>(num_layers), 0);
  if (arch == Arch::Llama) return windows;
  const int64_t window = c.get_int_or("sliding_window", 0);
  // Qwen2/Qwen3 carry a sliding_window value but use it only with use_sliding_window true.
  if ((arch == Arch::Qwen2 || arch == Arch::Qwen3) && !c.get_bool_or("use_sliding_window", false))
    return windows;
  if (window == 0) return windows;
  require_positive(c.where(), "sliding_window", window);
  if (c.has("layer_types")) {
    const json& types = c.at("layer_types");
    if (!types.is_array() || static_cast<int64_t>(types.size()) != num_layers)
      fail("{}: layer_types must list one entry per layer ({})", c.where(), num_layers);
    for (int64_t i = 0; i < num_layers; ++i) {
      const json& t = types[static_cast<size_t>(i)];
      if (!t.is_string()) fail("{}: layer_types[{}] is not a string", c.where(), i);
      if (t == "sliding_attention") windows[static_cast<size_t>(i)] = window;
      else if (t != "full_attention")
        fail("{}: layer_types[{}] '{}' is not supported", c.where(), i, t.get<std::string>());
    }
    return windows;
  }
  if (arch == Arch::Mistral) {
    std::fill(windows.begin(), windows.end(), window);
  } else {
    // Qwen2/3 without layer_types: layers from max_window_layers on use the window.
    const int64_t first = c.get_int_or("max_window_layers", 0);
    for (int64_t i = std::max<int64_t>(first, 0); i < num_layers; ++i) windows[static_cast<size_t>(i)] = window;
  }
  return windows;
}

}  // namespace

ModelConfig parse_hf_config(const json& config, const json* generation, const std::string& where) {
  if (!config.is_object()) fail("{}: is not a JSON object", where);
  Fields c(config, where);
  ModelConfig m;
  if (!c.has("model_type")) fail("{}: required field 'model_type' is missing", where);
  m.arch_name = c.get_string_or("model_type", "");
  if (m.arch_name == "llama") m.arch = Arch::Llama;
  else if (m.arch_name == "mistral") m.arch = Arch::Mistral;
  else if (m.arch_name == "qwen2") m.arch = Arch::Qwen2;
  else if (m.arch_name == "qwen3") m.arch = Arch::Qwen3;
  else
    fail("{}: model_type '{}' is not supported (supported: llama, mistral, qwen2, qwen3)", where, m.arch_name);

  m.vocab_size = c.get_int("vocab_size");
  m.hidden_size = c.get_int("hidden_size");
  m.intermediate_size = c.get_int("intermediate_size");
  m.num_layers = c.get_int("num_hidden_layers");
  m.num_heads = c.get_int("num_attention_heads");
  m.num_kv_heads = c.get_int_or("num_key_value_heads", m.num_heads);
  for (auto [key, v] : {std::pair{"vocab_size", m.vocab_size}, {"hidden_size", m.hidden_size},
                        {"intermediate_size", m.intermediate_size}, {"num_hidden_layers", m.num_layers},
                        {"num_attention_heads", m.num_heads}, {"num_key_value_heads", m.num_kv_heads}})
    require_positive(where, key, v);
  if (m.num_heads % m.num_kv_heads != 0)
    fail("{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", where, m.num_heads,
         m.num_kv_heads);
  if (!c.has("head_dim") && m.hidden_size % m.num_heads != 0)
    fail("{}: hidden_size {} is not a multiple of num_attention_heads {} and head_dim is not given",
         where, m.hidden_size, m.num_heads);
  m.head_dim = c.get_int_or("head_dim", m.hidden_size / m.num_heads);
  require_positive(where, "head_dim", m.head_dim);
  m.max_position_embeddings = c.get_int_or("max_position_embeddings", 0);
  m.rms_norm_eps = static_cast<float>(c.get_float_or("rms_norm_eps", 1e-6));
  m.rope = parse_rope(c, m.head_dim);
  m.rope.style = RopeStyle::RotateHalf;  // HF checkpoints are always rotate-half
  m.tie_word_embeddings = c.get_bool_or("tie_word_embeddings", false);

  const std::string act = c.get_string_or("hidden_act", "silu");
  if (act != "silu") fail("{}: hidden_act '{}' is not supported (only silu)", where, act);
  if (c.get_bool_or("mlp_bias", false)) fail("{}: mlp_bias true is not supported", where);
  // attention_bias puts a bias on q, k, v AND o_proj; Qwen2 has q/k/v biases by construction
  // (no o_proj bias) whatever the field says.
  if (c.get_bool_or("attention_bias", false) && m.arch != Arch::Qwen2)
    fail("{}: attention_bias true (biases on q/k/v/o projections) is not supported", where);
  m.qkv_bias = m.arch == Arch::Qwen2;
  m.qk_norm = m.arch == Arch::Qwen3;
  m.layer_window = parse_windows(c, m.arch, m.num_layers);

  // Special tokens: generation_config.json (what generate() uses) wins over config.json.
  std::vector<int64_t> bos = c.get_int_list("bos_token_id");
  m.eos_token_ids = c.get_int_list("eos_token_id");
  std::vector<int64_t> pad = c.get_int_list("pad_token_id");
  if (generation) {
    if (!generation->is_object()) fail("{}: generation config is not a JSON object", where);
    Fields g(*generation, where + " generation_config");
    if (g.has("bos_token_id")) bos = g.get_int_list("bos_token_id");
    if (g.has("eos_token_id")) m.eos_token_ids = g.get_int_list("eos_token_id");
    if (g.has("pad_token_id")) pad = g.get_int_list("pad_token_id");
  }
  m.bos_token_id = bos.empty() ? -1 : bos[0];
  m.pad_token_id = pad.empty() ? -1 : pad[0];
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
