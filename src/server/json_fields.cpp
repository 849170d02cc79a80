#include "server/json_fields.h"

#include <cmath>

#include <fmt/core.h>

#include "server/api_error.h"

namespace ax::server {

using nlohmann::json;

const json* field(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string type_name(const json& v) { return v.type_name(); }

double get_number(const json& v, const std::string& param, double lo, double hi) {
  if (!v.is_number()) bad_param(param, "must be a number, got {}", type_name(v));
  double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) bad_param(param, "must be in [{}, {}], got {}", lo, hi, x);
  return x;
}

int64_t get_int(const json& v, const std::string& param, int64_t lo, int64_t hi) {
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::floor(d) != d) bad_param(param, "must be an integer, got {}", d);
    if (d < static_cast<double>(lo) || d > static_cast<double>(hi))
      bad_param(param, "must be in [{}, {}], got {}", lo, hi, d);
    return static_cast<int64_t>(d);
  }
  if (!v.is_number_integer()) bad_param(param, "must be an integer, got {}", type_name(v));
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi))
    bad_param(param, "must be in [{}, {}], got {}", lo, hi, v.get<uint64_t>());
  int64_t x = v.get<int64_t>();
  if (x < lo || x > hi) bad_param(param, "must be in [{}, {}], got {}", lo, hi, x);
  return x;
}

bool get_bool(const json& v, const std::string& param) {
  if (!v.is_boolean()) bad_param(param, "must be a boolean, got {}", type_name(v));
  return v.get<bool>();
}

std::string get_string(const json& v, const std::string& param) {
  if (!v.is_string()) bad_param(param, "must be a string, got {}", type_name(v));
  return v.get<std::string>();
}

const json& get_object(const json& v, const std::string& param) {
  if (!v.is_object()) bad_param(param, "must be an object, got {}", type_name(v));
  return v;
}

const json& get_array(const json& v, const std::string& param) {
  if (!v.is_array()) bad_param(param, "must be an array, got {}", type_name(v));
  return v;
}

void for_each_typed_part(const json& v, const std::string& param,
                         const std::function<void(const std::string&, const json&, const std::string&)>& f) {
  get_array(v, param);
  for (size_t j = 0; j < v.size(); ++j) {
    const std::string p = fmt::format("{}[{}]", param, j);
    const json& part = get_object(v[j], p);
    const json* type = field(part, "type");
    if (!type) bad_param(p + ".type", "is required");
    f(get_string(*type, p + ".type"), part, p);
  }
}

std::string required_string(const json& part, const char* key, const std::string& part_param) {
  const json* v = field(part, key);
  if (!v) bad_param(part_param + "." + key, "is required");
  return get_string(*v, part_param + "." + key);
}

nlohmann::ordered_json function_tool(const json& tool, const nlohmann::ordered_json& raw_tool, const char* schema_key,
                                     bool schema_required, const std::string& param) {
  get_object(tool, param);
  nlohmann::ordered_json fn = {{"name", required_string(tool, "name", param)}};
  if (const json* d = field(tool, "description")) fn["description"] = get_string(*d, param + ".description");
  if (const json* schema = field(tool, schema_key)) {
    get_object(*schema, param + "." + schema_key);
    fn["parameters"] = raw_tool[schema_key];
  } else if (schema_required) {
    bad_param(param + "." + schema_key, "is required");
  }
  return {{"type", "function"}, {"function", std::move(fn)}};
}

}  // namespace ax::server
