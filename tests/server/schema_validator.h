#pragma once
// Test oracle: a JSON Schema validator for the keywords constrained decoding supports, written
// straight from the specification and independent of server/json_schema (patterns go through
// std::regex's ECMAScript grammar, so keep test patterns ASCII). Formats are not checked here;
// their tests list examples. Header-only (tests/server builds only *_test.cpp files).
#include <cmath>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

namespace ax::test {

using nlohmann::json;

inline size_t code_points(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

inline bool is_integer_value(const json& v) {
  return v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
}

// x is a multiple of m, for test values with few decimals (rounded to a 1e-9 tolerance).
inline bool multiple_of(double x, double m) {
  double q = x / m;
  return std::fabs(q - std::round(q)) < 1e-9;
}

inline bool validate(const json& v, const json& s, const json& root) {
  if (s.is_boolean()) return s.get<bool>();
  if (s.contains("$ref") && !validate(v, root.at(json::json_pointer(s["$ref"].get<std::string>().substr(1))), root))
    return false;
  if (s.value("nullable", false) && v.is_null()) return true;
  if (s.contains("const") && v != s["const"]) return false;
  if (s.contains("enum")) {
    bool found = false;
    for (auto& e : s["enum"]) found |= v == e;
    if (!found) return false;
  }
  if (s.contains("anyOf")) {
    bool any = false;
    for (auto& alt : s["anyOf"]) any |= validate(v, alt, root);
    if (!any) return false;
  }
  if (s.contains("oneOf")) {
    int count = 0;
    for (auto& alt : s["oneOf"]) count += validate(v, alt, root);
    if (count != 1) return false;
  }
  if (s.contains("allOf"))
    for (auto& m : s["allOf"])
      if (!validate(v, m, root)) return false;
  if (s.contains("type")) {
    json types = s["type"].is_string() ? json::array({s["type"]}) : s["type"];
    bool ok = false;
    for (auto& t : types) {
      const std::string n = t;
      ok |= (n == "object" && v.is_object()) || (n == "array" && v.is_array()) || (n == "string" && v.is_string()) ||
            (n == "number" && v.is_number()) || (n == "integer" && v.is_number() && is_integer_value(v)) ||
            (n == "boolean" && v.is_boolean()) || (n == "null" && v.is_null());
    }
    if (!ok) return false;
  }
  if (v.is_object()) {
    const json props = s.value("properties", json::object());
    for (auto& [k, sub] : v.items()) {
      if (props.contains(k)) {
        if (!validate(sub, props[k], root)) return false;
      } else if (s.contains("additionalProperties") && !validate(sub, s["additionalProperties"], root)) {
        return false;
      }
      if (s.contains("propertyNames") && !validate(json(k), s["propertyNames"], root)) return false;
    }
    if (s.contains("required"))
      for (auto& r : s["required"])
        if (!v.contains(r.get<std::string>())) return false;
    if (s.contains("minProperties") && v.size() < s["minProperties"].get<size_t>()) return false;
    if (s.contains("maxProperties") && v.size() > s["maxProperties"].get<size_t>()) return false;
  }
  if (v.is_array()) {
    if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>()) return false;
    if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>()) return false;
    // prefixItems + items (2020-12), or items as an array + additionalItems (older drafts).
    const bool old_tuple = s.contains("items") && s["items"].is_array();
    const json prefix = old_tuple ? s["items"] : s.value("prefixItems", json::array());
    const char* rest = old_tuple ? "additionalItems" : "items";
    for (size_t i = 0; i < v.size(); ++i) {
      if (i < prefix.size()) {
        if (!validate(v[i], prefix[i], root)) return false;
      } else if (s.contains(rest) && !validate(v[i], s[rest], root)) {
        return false;
      }
    }
  }
  if (v.is_string()) {
    const std::string str = v.get<std::string>();
    if (s.contains("minLength") && code_points(str) < s["minLength"].get<size_t>()) return false;
    if (s.contains("maxLength") && code_points(str) > s["maxLength"].get<size_t>()) return false;
    if (s.contains("pattern") && !std::regex_search(str, std::regex(s["pattern"].get<std::string>(), std::regex::ECMAScript)))
      return false;
  }
  if (v.is_number()) {
    const double x = v.get<double>();
    // Draft 4 wrote exclusiveMinimum/exclusiveMaximum as booleans on minimum/maximum.
    const bool ex_min = s.contains("exclusiveMinimum") && s["exclusiveMinimum"] == true;
    const bool ex_max = s.contains("exclusiveMaximum") && s["exclusiveMaximum"] == true;
    if (s.contains("minimum") && (ex_min ? x <= s["minimum"].get<double>() : x < s["minimum"].get<double>())) return false;
    if (s.contains("maximum") && (ex_max ? x >= s["maximum"].get<double>() : x > s["maximum"].get<double>())) return false;
    if (s.contains("exclusiveMinimum") && s["exclusiveMinimum"].is_number() && x <= s["exclusiveMinimum"].get<double>())
      return false;
    if (s.contains("exclusiveMaximum") && s["exclusiveMaximum"].is_number() && x >= s["exclusiveMaximum"].get<double>())
      return false;
    if (s.contains("multipleOf") && !multiple_of(x, s["multipleOf"].get<double>())) return false;
  }
  return true;
}

}  // namespace ax::test
