#include "model/hf_fields.h"

#include <cmath>

#include "util/error.h"

namespace ax {
using nlohmann::json;

int64_t HfFields::to_int(const nlohmann::json& v, const char* key) const {
  if (v.is_number_integer()) return v.get<int64_t>();
  // Some configs write integral values as floats ("factor": 8.0 is fine, "hidden_size": 64.0 too).
  if (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())))
    return static_cast<int64_t>(v.get<double>());
  fail("{}: field '{}' is not an integer", where_, key);
}

int64_t HfFields::get_int(const char* key) const {
  if (!has(key)) fail("{}: required field '{}' is missing", where_, key);
  return to_int(j_[key], key);
}

int64_t HfFields::get_int_or(const char* key, int64_t def) const { return has(key) ? to_int(j_[key], key) : def; }

int64_t HfFields::get_positive(const char* key) const {
  const int64_t v = get_int(key);
  if (v <= 0) fail("{}: field '{}' must be positive, got {}", where_, key, v);
  return v;
}

double HfFields::get_float_or(const char* key, double def) const {
  if (!has(key)) return def;
  if (!j_[key].is_number()) fail("{}: field '{}' is not a number", where_, key);
  return j_[key].get<double>();
}

bool HfFields::get_bool_or(const char* key, bool def) const {
  if (!has(key)) return def;
  if (!j_[key].is_boolean()) fail("{}: field '{}' is not true/false", where_, key);
  return j_[key].get<bool>();
}

std::string HfFields::get_string_or(const char* key, const std::string& def) const {
  if (!has(key)) return def;
  if (!j_[key].is_string()) fail("{}: field '{}' is not a string", where_, key);
  return j_[key].get<std::string>();
}

std::vector<int64_t> HfFields::get_int_list(const char* key) const {
  std::vector<int64_t> out;
  if (!has(key)) return out;
  if (j_[key].is_array()) {
    for (const auto& v : j_[key]) out.push_back(to_int(v, key));
  } else {
    out.push_back(to_int(j_[key], key));
  }
  return out;
}

RopeConfig parse_hf_rope(const HfFields& c, int64_t head_dim) {
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
  HfFields p(*params, where);
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
  } else if (r.scaling_type == "proportional") {
    // The whole head pairs up; partial_rotary_factor says how many pairs turn (model/rope.h).
    r.rotary_dim = 0;
    r.partial_rotary_factor = static_cast<float>(partial);
    r.factor = static_cast<float>(p.get_float_or("factor", 1.0));
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
    // DeepSeek: with mscale and mscale_all_dim, the rotated values are scaled by their ratio of
    // get_mscale(factor, .) = 0.1 * . * ln(factor) + 1 (1 when they are equal, as released), and
    // the attention scores by get_mscale(factor, mscale_all_dim)^2 (the architecture applies that).
    const double mscale = p.get_float_or("mscale", 0.0), mscale_all_dim = p.get_float_or("mscale_all_dim", 0.0);
    r.mscale_all_dim = static_cast<float>(mscale_all_dim);
    if (r.attention_factor == 0.0f && mscale != 0.0 && mscale_all_dim != 0.0) {
      auto get_mscale = [&](double m) { return r.factor <= 1.0f ? 1.0 : 0.1 * m * std::log(r.factor) + 1.0; };
      r.attention_factor = static_cast<float>(get_mscale(mscale) / get_mscale(mscale_all_dim));
    }
  } else {
    fail("{}: rope type '{}' is not supported (supported: default, linear, llama3, yarn, proportional)", where,
         r.scaling_type);
  }
  if (!(r.factor > 0)) fail("{}: rope factor must be positive", where);
  return r;
}

bool parse_hf_layer_types(const HfFields& c, int64_t window, std::vector<LayerConfig>& layers) {
  if (!c.has("layer_types")) return false;
  const json& types = c.at("layer_types");
  if (!types.is_array() || types.size() != layers.size())
    fail("{}: layer_types must list one entry per layer ({})", c.where(), layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    const json& t = types[i];
    if (!t.is_string()) fail("{}: layer_types[{}] is not a string", c.where(), i);
    if (t == "sliding_attention") layers[i].window = window;
    else if (t != "full_attention")
      fail("{}: layer_types[{}] '{}' is not supported", c.where(), i, t.get<std::string>());
  }
  return true;
}

Activation parse_hf_activation(const HfFields& c) {
  const std::string act = c.get_string_or("hidden_activation", c.get_string_or("hidden_act", "silu"));
  if (act == "silu" || act == "swish") return Activation::Silu;
  if (act == "gelu_pytorch_tanh" || act == "gelu_tanh") return Activation::GeluTanh;
  fail("{}: hidden_act '{}' is not supported (supported: silu, gelu_pytorch_tanh)", c.where(), act);
}

}  // namespace ax
