#include "bench/json_fields.h"

#include <fmt/core.h>

#include <algorithm>

namespace ax::bench {

using nlohmann::json;

void manifest_fail(const std::string& where, const std::string& message) {
  throw ManifestError(fmt::format("manifest {}: {}", where, message));
}

JsonFields::JsonFields(const json& obj, std::string where, std::string path)
    : obj_(obj), where_(std::move(where)), path_(std::move(path)) {
  if (!obj_.is_object())
    manifest_fail(where_, fmt::format("{} must be a JSON object (got {})", path_.empty() ? "the document" : path_,
                                      obj_.dump().substr(0, 60)));
}

void JsonFields::bad(const std::string& key, const std::string& must, const json& got) const {
  manifest_fail(where_, fmt::format("{} must be {} (got {})", field(key), must, got.dump().substr(0, 60)));
}

int64_t JsonFields::integer(const std::string& key, int64_t def, int64_t min, int64_t max) {
  known_.insert(key);
  if (!obj_.contains(key)) return def;
  const json& v = obj_[key];
  const std::string must = fmt::format("an integer in [{}, {}]", min, max);
  if (!v.is_number_integer()) bad(key, must, v);
  const int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX
                                                                                                     : v.get<int64_t>();
  if (x < min || x > max) bad(key, must, v);
  return x;
}

double JsonFields::number(const std::string& key, double def, double min, double max) {
  known_.insert(key);
  if (!obj_.contains(key)) return def;
  const json& v = obj_[key];
  const std::string must = fmt::format("a number in [{}, {}]", min, max);
  if (!v.is_number()) bad(key, must, v);
  const double x = v.get<double>();
  if (!(x >= min && x <= max)) bad(key, must, v);
  return x;
}

bool JsonFields::boolean(const std::string& key, bool def) {
  known_.insert(key);
  if (!obj_.contains(key)) return def;
  const json& v = obj_[key];
  if (!v.is_boolean()) bad(key, "true or false", v);
  return v.get<bool>();
}

std::string JsonFields::string(const std::string& key, const std::string& def, const std::vector<std::string>& allowed) {
  known_.insert(key);
  if (!obj_.contains(key)) return def;
  const json& v = obj_[key];
  std::string must = "a non-empty string";
  if (!allowed.empty()) {
    must = "one of";
    for (size_t i = 0; i < allowed.size(); ++i) must += (i ? ", \"" : " \"") + allowed[i] + "\"";
  }
  if (!v.is_string() || v.get<std::string>().empty()) bad(key, must, v);
  const std::string s = v.get<std::string>();
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), s) == allowed.end()) bad(key, must, v);
  return s;
}

std::string JsonFields::required_string(const std::string& key) {
  if (!obj_.contains(key)) manifest_fail(where_, fmt::format("{} is required", field(key)));
  return string(key, "");
}

const json* JsonFields::raw(const std::string& key) {
  known_.insert(key);
  return obj_.contains(key) ? &obj_[key] : nullptr;
}

JsonFields JsonFields::object(const std::string& key) {
  known_.insert(key);
  return JsonFields(obj_.at(key), where_, field(key));
}

void JsonFields::finish() const {
  for (const auto& [key, value] : obj_.items()) {
    if (known_.count(key)) continue;
    std::string list;
    for (const auto& k : known_) list += (list.empty() ? "" : ", ") + k;
    manifest_fail(where_, fmt::format("unknown field {} (known here: {})", field(key), list));
  }
}

}  // namespace ax::bench
