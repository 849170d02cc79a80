#pragma once
// Typed access to a Hugging Face config.json object that names the file and field on error, and
// the config pieces several architectures share (RoPE parameters, sliding-window layer patterns).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace ax {

// A JSON null counts as absent (transformers writes "sliding_window": null, "pad_token_id": null).
class HfFields {
 public:
  HfFields(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {}

  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }
  const nlohmann::json& at(const char* key) const { return j_[key]; }
  const nlohmann::json& object() const { return j_; }

  int64_t get_int(const char* key) const;
  int64_t get_int_or(const char* key, int64_t def) const;
  int64_t get_positive(const char* key) const;  // required and > 0
  double get_float_or(const char* key, double def) const;
  bool get_bool_or(const char* key, bool def) const;
  std::string get_string_or(const char* key, const std::string& def) const;
  // An int or a list of ints (eos_token_id); empty when absent.
  std::vector<int64_t> get_int_list(const char* key) const;
  const std::string& where() const { return where_; }

 private:
  int64_t to_int(const nlohmann::json& v, const char* key) const;
  const nlohmann::json& j_;
  std::string where_;
};

// RoPE: theta and scaling from "rope_parameters" (transformers 5), else "rope_theta" and
// "rope_scaling" (transformers 4); partial_rotary_factor from either.
RopeConfig parse_hf_rope(const HfFields& c, int64_t head_dim);

// Per-layer windows from "layer_types" (sliding_attention / full_attention), all `window` wide;
// false when the config has no layer_types.
bool parse_hf_layer_types(const HfFields& c, int64_t window, std::vector<LayerConfig>& layers);

// The gate activation named by hidden_act / hidden_activation; throws for the others.
Activation parse_hf_activation(const HfFields& c);

}  // namespace ax
