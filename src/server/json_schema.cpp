#include "server/json_schema.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "server/api_error.h"

namespace ax::server {
namespace {

using nlohmann::json;
using Kind = SchemaNode::Kind;

constexpr size_t kMaxKeys = 64;      // the automaton tracks seen keys in a 64-bit mask
constexpr size_t kMaxLiterals = 64;  // and candidate literals likewise
constexpr size_t kMaxNodes = 4096;
constexpr int kMaxSchemaDepth = 128;  // nesting of the schema document itself (not of the output)

// Keywords that only annotate: they never restrict the instance.
const std::set<std::string> kAnnotations = {
    "title", "description", "default", "examples", "$schema", "$id", "$comment", "strict",
    "readOnly", "writeOnly", "deprecated", "$defs", "definitions", "additionalProperties",
    // handled explicitly below
    "type", "properties", "required", "items", "minItems", "maxItems", "minLength", "maxLength",
    "enum", "const", "anyOf", "oneOf", "allOf", "nullable", "$ref"};

std::vector<SchemaNode> builtin_nodes() {
  std::vector<SchemaNode> n(6);
  n[CompiledSchema::kAny].kind = Kind::Any;
  n[CompiledSchema::kAnyObject].kind = Kind::Object;
  n[CompiledSchema::kAnyObject].free_value = CompiledSchema::kAny;
  n[CompiledSchema::kAnyArray].kind = Kind::Array;
  n[CompiledSchema::kAnyArray].items = CompiledSchema::kAny;
  n[CompiledSchema::kAnyString].kind = Kind::String;
  n[CompiledSchema::kAnyNumber].kind = Kind::Number;
  n[CompiledSchema::kTrueFalseNull].kind = Kind::Literal;
  n[CompiledSchema::kTrueFalseNull].literals = {"true", "false", "null"};
  return n;
}

class Compiler {
 public:
  Compiler(const json& root, std::string param) : root_(root), param_(std::move(param)) {
    out_.nodes = builtin_nodes();
  }

  CompiledSchema run() {
    out_.root = compile(root_, param_, 0);
    close_alternatives();
    return std::move(out_);
  }

 private:
  [[noreturn]] void reject(const std::string& where, const std::string& why) { bad_param(where, "{}", why); }

  int add(SchemaNode n) {
    if (out_.nodes.size() >= kMaxNodes) reject(param_, "is too large to enforce");
    out_.nodes.push_back(std::move(n));
    return static_cast<int>(out_.nodes.size()) - 1;
  }

  // AnyOf nodes are expanded without reading a byte. A cycle of them (a $ref that comes back to
  // itself through $ref, anyOf or oneOf alone) has no finite expansion: it is a 400 naming the
  // $ref. Without cycles, each AnyOf's options become the other nodes it reaches, once each, so
  // the automaton expands one level and nested alternatives cost linear, not exponential, time.
  void close_alternatives() {
    const size_t n = out_.nodes.size();
    std::vector<uint8_t> state(n, 0);  // 0: not seen, 1: on the path being expanded, 2: closed
    std::vector<int> path;
    std::function<void(int)> close = [&](int id) {
      state[id] = 1;
      path.push_back(id);
      std::vector<int> leaves;
      for (int option : out_.nodes[id].options) {
        if (out_.nodes[option].kind != Kind::AnyOf) {
          leaves.push_back(option);
          continue;
        }
        if (state[option] == 1) {
          // The cycle closes here: name the $ref nearest to this edge (every cycle has one).
          for (auto it = path.rbegin(); it != path.rend(); ++it)
            if (auto ref = ref_where_.find(*it); ref != ref_where_.end())
              reject(ref->second, "refers back to itself without reading any input (a recursive schema must nest "
                                  "inside an object or an array)");
          reject(param_, "refers back to itself without reading any input");
        }
        if (state[option] == 0) close(option);
        const std::vector<int>& sub = out_.nodes[option].options;
        leaves.insert(leaves.end(), sub.begin(), sub.end());
      }
      std::vector<int> unique;
      for (int leaf : leaves)
        if (std::find(unique.begin(), unique.end(), leaf) == unique.end()) unique.push_back(leaf);
      out_.nodes[id].options = std::move(unique);
      path.pop_back();
      state[id] = 2;
    };
    for (size_t id = 0; id < n; ++id)
      if (out_.nodes[id].kind == Kind::AnyOf && state[id] == 0) close(static_cast<int>(id));
  }

  int64_t get_count(const json& s, const char* key, const std::string& where) {
    const json& v = s[key];
    if (!v.is_number_integer() || v.get<int64_t>() < 0)
      reject(where + "." + key, "must be a non-negative integer");
    return v.get<int64_t>();
  }

  const json& resolve_ref(const std::string& ref, const std::string& where) {
    // Only local JSON pointers: "#/$defs/Name", "#/definitions/Name", "#".
    if (ref.rfind("#", 0) != 0) reject(where + ".$ref", "only local references ('#/...') are supported");
    try {
      json::json_pointer ptr(ref.substr(1));
      if (root_.contains(ptr)) return root_.at(ptr);
    } catch (const std::exception&) {
      reject(where + ".$ref", "is not a valid JSON pointer: '" + ref + "'");
    }
    reject(where + ".$ref", "points at nothing: '" + ref + "'");
  }

  // "#/$defs/Node" -> "<param>.$defs.Node", for error messages (the pointer's ~1 and ~0 unescaped).
  std::string pointer_where(const std::string& ref) const {
    std::string out = param_;
    for (char c : ref.substr(1)) out += c == '/' ? '.' : c;
    for (auto [from, to] : {std::pair<const char*, const char*>{"~1", "/"}, {"~0", "~"}})
      for (size_t at = out.find(from); at != std::string::npos; at = out.find(from, at + 1)) out.replace(at, 2, to);
    return out;
  }

  int literal_node(std::vector<std::string> lits, const std::string& where) {
    if (lits.empty()) reject(where, "allows no value");
    if (lits.size() > kMaxLiterals) reject(where, "lists too many values to enforce (at most 64)");
    SchemaNode n;
    n.kind = Kind::Literal;
    n.literals = std::move(lits);
    return add(std::move(n));
  }

  int compile(const json& s, const std::string& where, int depth) {
    if (depth > kMaxSchemaDepth) reject(where, fmt::format("nests deeper than {} levels", kMaxSchemaDepth));
    if (s.is_boolean()) {
      if (!s.get<bool>()) reject(where, "is 'false', which no value matches");
      return CompiledSchema::kAny;
    }
    if (!s.is_object()) reject(where, "must be a JSON schema object");
    for (auto& [key, value] : s.items())
      if (!kAnnotations.count(key)) reject(where + "." + key, "is a schema keyword that constrained decoding does not support");

    if (s.contains("$ref")) {
      if (!s["$ref"].is_string()) reject(where + ".$ref", "must be a string");
      std::string ref = s["$ref"].get<std::string>();
      // Every $ref gets its own alias node (anyOf with one option), so a cycle can be reported
      // at the $ref that closes it.
      int id = add(SchemaNode{});
      out_.nodes[id].kind = Kind::AnyOf;
      ref_where_[id] = where + ".$ref";
      if (auto it = refs_.find(ref); it != refs_.end()) {
        out_.nodes[id].options = {it->second};
        return id;
      }
      // Register before compiling the target, so recursive schemas refer back to it.
      refs_[ref] = id;
      // Errors inside the target name it where it is written ("schema.$defs.Node...").
      int target = compile(resolve_ref(ref, where), pointer_where(ref), depth + 1);
      out_.nodes[id].options = {target};
      return id;
    }
    if (s.contains("const")) return literal_node({s["const"].dump()}, where + ".const");
    if (s.contains("enum")) {
      if (!s["enum"].is_array()) reject(where + ".enum", "must be an array");
      std::vector<std::string> lits;
      for (auto& v : s["enum"]) lits.push_back(v.dump());
      return literal_node(std::move(lits), where + ".enum");
    }
    for (const char* combinator : {"anyOf", "oneOf"}) {
      if (!s.contains(combinator)) continue;
      const json& alts = s[combinator];
      if (!alts.is_array() || alts.empty()) reject(where + "." + combinator, "must be a non-empty array");
      SchemaNode n;
      n.kind = Kind::AnyOf;
      for (size_t i = 0; i < alts.size(); ++i)
        n.options.push_back(compile(alts[i], fmt::format("{}.{}[{}]", where, combinator, i), depth + 1));
      return add(std::move(n));
    }
    if (s.contains("allOf")) {
      const json& all = s["allOf"];
      if (!all.is_array() || all.size() != 1) reject(where + ".allOf", "is supported only with exactly one member");
      return compile(all[0], where + ".allOf[0]", depth + 1);
    }

    std::vector<std::string> types;
    if (s.contains("type")) {
      const json& t = s["type"];
      if (t.is_string()) types.push_back(t.get<std::string>());
      else if (t.is_array()) for (auto& x : t) {
        if (!x.is_string()) reject(where + ".type", "must be a string or an array of strings");
        types.push_back(x.get<std::string>());
      }
      else reject(where + ".type", "must be a string or an array of strings");
    }
    if (s.value("nullable", false)) types.push_back("null");
    if (types.empty()) {
      // No type: infer from the keywords present, else any value.
      if (s.contains("properties") || s.contains("required")) types.push_back("object");
      else if (s.contains("items")) types.push_back("array");
      else return CompiledSchema::kAny;
    }
    if (types.size() == 1) return compile_typed(s, types[0], where, depth);
    SchemaNode n;
    n.kind = Kind::AnyOf;
    for (auto& t : types) n.options.push_back(compile_typed(s, t, where, depth));
    return add(std::move(n));
  }

  int compile_typed(const json& s, const std::string& type, const std::string& where, int depth) {
    if (type == "null") return literal_node({"null"}, where);
    if (type == "boolean") return literal_node({"true", "false"}, where);
    if (type == "number" || type == "integer") {
      SchemaNode n;
      n.kind = type == "number" ? Kind::Number : Kind::Integer;
      return add(std::move(n));
    }
    if (type == "string") {
      SchemaNode n;
      n.kind = Kind::String;
      if (s.contains("minLength")) n.min_length = get_count(s, "minLength", where);
      if (s.contains("maxLength")) n.max_length = get_count(s, "maxLength", where);
      if (n.max_length >= 0 && n.min_length > n.max_length) reject(where + ".minLength", "exceeds maxLength");
      return add(std::move(n));
    }
    if (type == "array") {
      SchemaNode n;
      n.kind = Kind::Array;
      if (s.contains("minItems")) n.min_items = get_count(s, "minItems", where);
      if (s.contains("maxItems")) n.max_items = get_count(s, "maxItems", where);
      if (n.max_items >= 0 && n.min_items > n.max_items) reject(where + ".minItems", "exceeds maxItems");
      int id = add(std::move(n));
      int items = s.contains("items") ? compile(s["items"], where + ".items", depth + 1) : CompiledSchema::kAny;
      out_.nodes[id].items = items;
      return id;
    }
    if (type == "object") return compile_object(s, where, depth);
    reject(where + ".type", "names an unknown type '" + type + "'");
  }

  int compile_object(const json& s, const std::string& where, int depth) {
    int id = add(SchemaNode{});
    SchemaNode n;
    n.kind = Kind::Object;
    std::vector<std::string> names;
    if (s.contains("properties")) {
      const json& props = s["properties"];
      if (!props.is_object()) reject(where + ".properties", "must be an object");
      if (props.size() > kMaxKeys) reject(where + ".properties", "has more than 64 keys");
      for (auto& [name, sub] : props.items()) {
        names.push_back(name);
        n.keys.push_back(json(name).dump());
        n.key_nodes.push_back(compile(sub, where + ".properties." + name, depth + 1));
      }
    }
    if (s.contains("required")) {
      const json& req = s["required"];
      if (!req.is_array()) reject(where + ".required", "must be an array of property names");
      for (auto& r : req) {
        if (!r.is_string()) reject(where + ".required", "must be an array of property names");
        auto it = std::find(names.begin(), names.end(), r.get<std::string>());
        if (it == names.end())
          reject(where + ".required", "names '" + r.get<std::string>() + "', which is not in 'properties'");
        n.required |= uint64_t{1} << (it - names.begin());
      }
    }
    if (!s.contains("properties")) {
      // Free keys: their values follow additionalProperties; false leaves only {}.
      if (!s.contains("additionalProperties") || s["additionalProperties"] == true) {
        n.free_value = CompiledSchema::kAny;
      } else if (s["additionalProperties"].is_object()) {
        n.free_value = compile(s["additionalProperties"], where + ".additionalProperties", depth + 1);
      } else if (s["additionalProperties"] != false) {
        reject(where + ".additionalProperties", "must be a boolean or a schema");
      }
    }
    out_.nodes[id] = std::move(n);
    return id;
  }

  const json& root_;
  std::string param_;
  CompiledSchema out_;
  std::map<std::string, int> refs_;
  std::map<int, std::string> ref_where_;  // $ref alias node -> the field that holds the $ref
};

}  // namespace

CompiledSchema compile_json_schema(const json& schema, const std::string& param) {
  return Compiler(schema, param).run();
}

CompiledSchema any_json_object_schema() {
  CompiledSchema s;
  s.nodes = builtin_nodes();
  s.root = CompiledSchema::kAnyObject;
  return s;
}

}  // namespace ax::server
