#pragma once
// Reads the fields of one JSON object with validation, for documents users write by hand
// (benchmark manifests and matrices). Every getter marks its key as known; finish() then refuses
// any key nobody asked for, so a typo ("concurency") is an error instead of a silent default.
// Errors are ManifestErrors naming the document and the dotted field path:
//   manifest bench/manifests/x.json: shape.concurrency must be an integer in [1, 4096] (got 0)
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/manifest.h"

namespace ax::bench {

class JsonFields {
 public:
  // obj must be an object (else the error names `path`); where: the document, path: the dotted
  // path of obj itself ("" for the root).
  JsonFields(const nlohmann::json& obj, std::string where, std::string path);

  // Whether the key is present (it counts as known).
  bool has(const std::string& key) {
    known_.insert(key);
    return obj_.contains(key);
  }
  int64_t integer(const std::string& key, int64_t def, int64_t min, int64_t max);
  double number(const std::string& key, double def, double min, double max);
  bool boolean(const std::string& key, bool def);
  // allowed empty: any non-empty string.
  std::string string(const std::string& key, const std::string& def, const std::vector<std::string>& allowed = {});
  std::string required_string(const std::string& key);
  // The raw value (marked known); nullptr when absent.
  const nlohmann::json* raw(const std::string& key);
  // A nested object's reader (the key must hold an object).
  JsonFields object(const std::string& key);
  // Refuses keys no getter asked for.
  void finish() const;

  std::string field(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  [[noreturn]] void bad(const std::string& key, const std::string& must, const nlohmann::json& got) const;
  const std::string& where() const { return where_; }

 private:
  const nlohmann::json& obj_;
  std::string where_, path_;
  std::set<std::string> known_;
};

// "manifest WHERE: MESSAGE"
[[noreturn]] void manifest_fail(const std::string& where, const std::string& message);

}  // namespace ax::bench
