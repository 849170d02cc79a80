// Keywords to nodes: one schema document at a time (DocumentCompiler), then SchemaBuilder::finish
// runs the whole-graph passes of schema_graph.h.
#include "server/json_schema.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "server/api_error.h"
#include "server/regex.h"
#include "server/schema_graph.h"
#include "server/string_formats.h"

namespace ax::server {
namespace {

using nlohmann::json;
using Kind = SchemaNode::Kind;

constexpr int kMaxSchemaDepth = 128;  // nesting of the schema document itself (not of the output)

// Keywords that only annotate: they never restrict the instance.
const std::set<std::string> kAnnotations = {
    "title", "description", "default", "examples", "$schema", "$id", "$anchor", "$comment", "strict",
    "readOnly", "writeOnly", "deprecated", "$defs", "definitions", "discriminator", "contentEncoding",
    "contentMediaType", "example"};

// Keywords this compiler enforces, by the type they constrain.
const std::set<std::string> kObjectKeywords = {"properties", "required", "additionalProperties", "propertyNames",
                                               "minProperties", "maxProperties"};
const std::set<std::string> kArrayKeywords = {"items", "prefixItems", "additionalItems", "minItems", "maxItems",
                                              "uniqueItems"};
const std::set<std::string> kStringKeywords = {"minLength", "maxLength", "pattern"};
const std::set<std::string> kNumberKeywords = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                                               "multipleOf"};
const std::set<std::string> kGeneralKeywords = {"type", "enum", "const", "anyOf", "oneOf", "allOf", "nullable",
                                                "$ref", "format"};

const std::set<std::string> kNumberFormats = {"int32", "int64", "float", "double"};

bool known_keyword(const std::string& k) {
  for (const auto* set : {&kAnnotations, &kObjectKeywords, &kArrayKeywords, &kStringKeywords, &kNumberKeywords,
                          &kGeneralKeywords})
    if (set->count(k)) return true;
  return k.rfind("x-", 0) == 0;  // OpenAPI vendor extensions annotate
}

bool has_any(const json& s, const std::set<std::string>& keys) {
  for (const auto& k : keys)
    if (s.contains(k)) return true;
  return false;
}

// Format automata are the same for every request: compiled once.
const ByteDfa& format_dfa(const std::string& format, const std::string& where) {
  static std::mutex mu;
  static std::map<std::string, ByteDfa> cache;
  std::lock_guard lock(mu);
  auto it = cache.find(format);
  if (it == cache.end()) it = cache.emplace(format, compile_pattern(string_format_pattern(format), where)).first;
  return it->second;
}

[[noreturn]] void reject(const std::string& where, const std::string& why) { bad_param(where, "{}", why); }

// One schema document: $ref resolves against its root.
class DocumentCompiler {
 public:
  DocumentCompiler(SchemaBuilder::Impl& g, const json& root, std::string param)
      : g_(g), root_(root), param_(std::move(param)) {}

  int run() { return compile(root_, param_, 0); }

 private:
  int add(SchemaNode n, const std::string& where) { return g_.add(std::move(n), where); }

  int64_t get_count(const json& s, const char* key, const std::string& where) {
    const json& v = s[key];
    if (!v.is_number_integer() || v.get<int64_t>() < 0) reject(where + "." + key, "must be a non-negative integer");
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

  int alias(int target, const std::string& where) {
    SchemaNode n;
    n.kind = Kind::AnyOf;
    n.options = {target};
    return add(std::move(n), where);
  }

  int compile_ref(const json& s, const std::string& where, int depth) {
    if (!s["$ref"].is_string()) reject(where + ".$ref", "must be a string");
    const std::string ref = s["$ref"].get<std::string>();
    // Every $ref gets its own alias node (anyOf with one option), so a cycle can be reported
    // at the $ref that closes it.
    const int id = alias(CompiledSchema::kNever, where);
    g_.ref_where[id] = where + ".$ref";
    if (auto it = refs_.find(ref); it != refs_.end()) {
      g_.node(id).options = {it->second};
      return id;
    }
    // Registered before its target is compiled, so recursive schemas refer back to it. Errors
    // inside the target name it where it is written ("schema.$defs.Node...").
    refs_[ref] = id;
    const int target = compile(resolve_ref(ref, where), pointer_where(ref), depth + 1);
    g_.node(id).options = {target};
    return id;
  }

  int literals(const std::vector<json>& values, const std::string& where) {
    if (values.size() > kMaxLiterals)
      reject(where, fmt::format("lists too many values to enforce (at most {})", kMaxLiterals));
    std::vector<std::string> texts;
    for (const json& v : values) texts.push_back(v.dump());
    return g_.literal(std::move(texts));
  }

  int compile(const json& s, const std::string& where, int depth) {
    if (depth > kMaxSchemaDepth) reject(where, fmt::format("nests deeper than {} levels", kMaxSchemaDepth));
    if (s.is_boolean()) return s.get<bool>() ? CompiledSchema::kAny : CompiledSchema::kNever;
    if (!s.is_object()) reject(where, "must be a JSON schema object");
    for (auto& [key, value] : s.items())
      if (!known_keyword(key)) reject(where + "." + key, "is a schema keyword that constrained decoding does not support");
    if (s.contains("uniqueItems") && s["uniqueItems"] != false)
      reject(where + ".uniqueItems", "is a schema keyword that constrained decoding does not support (only false)");

    // Every group of keywords present must hold: several make an allOf.
    std::vector<int> parts;
    if (s.contains("$ref")) parts.push_back(compile_ref(s, where, depth));
    if (s.contains("const")) parts.push_back(literals({s["const"]}, where + ".const"));
    if (s.contains("enum")) {
      if (!s["enum"].is_array()) reject(where + ".enum", "must be an array");
      parts.push_back(literals(std::vector<json>(s["enum"].begin(), s["enum"].end()), where + ".enum"));
    }
    for (const char* combinator : {"anyOf", "oneOf", "allOf"}) {
      if (!s.contains(combinator)) continue;
      const json& members = s[combinator];
      if (!members.is_array() || members.empty()) reject(where + "." + combinator, "must be a non-empty array");
      std::vector<int> ids;
      for (size_t i = 0; i < members.size(); ++i)
        ids.push_back(compile(members[i], fmt::format("{}.{}[{}]", where, combinator, i), depth + 1));
      if (std::string(combinator) == "allOf") {
        parts.insert(parts.end(), ids.begin(), ids.end());
      } else {
        SchemaNode n;
        n.kind = Kind::AnyOf;
        n.options = std::move(ids);
        parts.push_back(add(std::move(n), where));
      }
    }
    const int typed = compile_type_part(s, where, depth);
    if (typed != CompiledSchema::kAny || parts.empty()) parts.push_back(typed);
    int id = parts[0];
    if (parts.size() > 1) {
      SchemaNode all;
      all.kind = Kind::AllOf;
      all.options = std::move(parts);
      id = add(std::move(all), where);
      g_.where[id] = where;
    }
    if (s.contains("nullable")) {
      if (!s["nullable"].is_boolean()) reject(where + ".nullable", "must be a boolean");
      if (s["nullable"].get<bool>()) {
        SchemaNode n;
        n.kind = Kind::AnyOf;
        n.options = {id, g_.literal({"null"})};
        id = add(std::move(n), where);
      }
    }
    return id;
  }

  // The part of a schema that "type" and the type-specific keywords describe (kAny: none).
  int compile_type_part(const json& s, const std::string& where, int depth) {
    std::vector<std::string> types;
    if (s.contains("type")) {
      const json& t = s["type"];
      if (t.is_string()) types.push_back(t.get<std::string>());
      else if (t.is_array() && !t.empty())
        for (auto& x : t) {
          if (!x.is_string()) reject(where + ".type", "must be a string or an array of strings");
          types.push_back(x.get<std::string>());
        }
      else reject(where + ".type", "must be a string or a non-empty array of strings");
    } else {
      // No type: the types the keywords present constrain (a subset of what the schema allows).
      const bool number_format = s.contains("format") && s["format"].is_string() &&
                                 kNumberFormats.count(s["format"].get<std::string>());
      if (has_any(s, kObjectKeywords)) types.push_back("object");
      if (has_any(s, kArrayKeywords) && !(s.size() == 1 && s.contains("uniqueItems"))) types.push_back("array");
      if (has_any(s, kStringKeywords) || (s.contains("format") && !number_format)) types.push_back("string");
      if (has_any(s, kNumberKeywords) || number_format) types.push_back("number");
      if (types.empty()) return CompiledSchema::kAny;
    }
    if (types.size() == 1) return compile_typed(s, types[0], where, depth);
    SchemaNode n;
    n.kind = Kind::AnyOf;
    for (auto& t : types) n.options.push_back(compile_typed(s, t, where, depth));
    return add(std::move(n), where);
  }

  int compile_typed(const json& s, const std::string& type, const std::string& where, int depth) {
    if (type == "null") return g_.literal({"null"});
    if (type == "boolean") return g_.literal({"true", "false"});
    if (type == "number" || type == "integer") return compile_number(s, type == "integer", where);
    if (type == "string") return compile_string(s, where);
    if (type == "array") return compile_array(s, where, depth);
    if (type == "object") return compile_object(s, where, depth);
    reject(where + ".type", "names an unknown type '" + type + "'");
  }

  int compile_number(const json& s, bool integer, const std::string& where) {
    SchemaNode n;
    n.kind = integer ? Kind::Integer : Kind::Number;
    n.range.integer = integer;
    read_numeric_keywords(s, where, n.range);
    if (s.contains("format")) {
      const json& f = s["format"];
      if (!f.is_string() || !kNumberFormats.count(f.get<std::string>()))
        reject(where + ".format", "is not a number format constrained decoding knows (int32, int64, float, double)");
      const std::string name = f.get<std::string>();
      if (name == "int32" || name == "int64") {
        NumericRange bits;
        bits.integer = true;
        bits.constrained = bits.has_lo = bits.has_hi = true;
        bits.lo = name == "int32" ? -(i128{1} << 31) : -(i128{1} << 63);
        bits.hi = name == "int32" ? (i128{1} << 31) - 1 : (i128{1} << 63) - 1;
        n.range.intersect(bits);
        n.kind = Kind::Integer;
      }
    }
    if (!n.range.satisfiable()) return CompiledSchema::kNever;
    return add(std::move(n), where);
  }

  int compile_string(const json& s, const std::string& where) {
    SchemaNode n;
    n.kind = Kind::String;
    if (s.contains("minLength")) n.min_length = get_count(s, "minLength", where);
    if (s.contains("maxLength")) n.max_length = get_count(s, "maxLength", where);
    if (n.max_length >= 0 && n.min_length > n.max_length) return CompiledSchema::kNever;
    std::optional<ByteDfa> dfa;
    if (s.contains("pattern")) {
      if (!s["pattern"].is_string()) reject(where + ".pattern", "must be a string");
      dfa = compile_pattern(s["pattern"].get<std::string>(), where + ".pattern");
    }
    if (s.contains("format")) {
      const json& f = s["format"];
      if (!f.is_string() || !string_format_pattern(f.get<std::string>()))
        reject(where + ".format", fmt::format("is not a string format constrained decoding enforces (supported: {})",
                                              supported_string_formats()));
      const ByteDfa& fd = format_dfa(f.get<std::string>(), where + ".format");
      if (dfa) {
        dfa = ByteDfa::intersect(*dfa, fd, kMaxPatternStates);
        if (!dfa) reject(where + ".pattern", "together with 'format' is too complex to enforce");
      } else {
        dfa = fd;
      }
    }
    if (dfa) {
      if (dfa->empty()) return CompiledSchema::kNever;
      n.pattern = g_.add_pattern(std::move(*dfa));
    }
    return add(std::move(n), where);
  }

  int compile_array(const json& s, const std::string& where, int depth) {
    SchemaNode n;
    n.kind = Kind::Array;
    if (s.contains("minItems")) n.min_items = get_count(s, "minItems", where);
    if (s.contains("maxItems")) n.max_items = get_count(s, "maxItems", where);
    // Tuples: prefixItems (2020-12) or the older items-as-array with additionalItems.
    const json* prefix = s.contains("prefixItems") ? &s["prefixItems"] : nullptr;
    std::string prefix_where = where + ".prefixItems";
    const json* rest = s.contains("items") ? &s["items"] : nullptr;
    std::string rest_where = where + ".items";
    if (rest && rest->is_array()) {
      if (prefix) reject(where + ".items", "cannot be an array beside 'prefixItems'");
      prefix = rest;
      prefix_where = rest_where;
      rest = s.contains("additionalItems") ? &s["additionalItems"] : nullptr;
      rest_where = where + ".additionalItems";
    }
    const int id = add(SchemaNode{}, where);
    if (prefix) {
      if (!prefix->is_array()) reject(prefix_where, "must be an array of schemas");
      for (size_t i = 0; i < prefix->size(); ++i)
        n.prefix_items.push_back(compile((*prefix)[i], fmt::format("{}[{}]", prefix_where, i), depth + 1));
    }
    n.items = rest ? compile(*rest, rest_where, depth + 1) : CompiledSchema::kAny;
    if (n.items == CompiledSchema::kNever) {
      n.items = -1;
      const int64_t cap = static_cast<int64_t>(n.prefix_items.size());
      n.max_items = tighter_max(n.max_items, cap);
    }
    if (n.max_items >= 0 && n.min_items > n.max_items) return CompiledSchema::kNever;
    g_.node(id) = std::move(n);
    return id;
  }

  int compile_object(const json& s, const std::string& where, int depth) {
    const int id = add(SchemaNode{}, where);
    SchemaNode n;
    n.kind = Kind::Object;
    if (s.contains("minProperties")) n.min_properties = get_count(s, "minProperties", where);
    if (s.contains("maxProperties")) n.max_properties = get_count(s, "maxProperties", where);
    std::vector<std::string> names;
    auto declare = [&](const std::string& name, int node, const std::string& at) {
      if (names.size() >= kMaxKeys) reject(at, fmt::format("has more than {} keys, too many to enforce", kMaxKeys));
      names.push_back(name);
      n.keys.push_back(json(name).dump());
      n.key_nodes.push_back(node);
    };
    if (s.contains("properties")) {
      n.declares_keys = true;
      const json& props = s["properties"];
      if (!props.is_object()) reject(where + ".properties", "must be an object");
      for (auto& [name, sub] : props.items())
        declare(name, compile(sub, where + ".properties." + name, depth + 1), where + ".properties");
    }
    n.free_value = CompiledSchema::kAny;
    if (s.contains("additionalProperties")) {
      const json& ap = s["additionalProperties"];
      if (!ap.is_boolean() && !ap.is_object()) reject(where + ".additionalProperties", "must be a boolean or a schema");
      n.free_value = compile(ap, where + ".additionalProperties", depth + 1);
      if (n.free_value == CompiledSchema::kNever) n.free_value = -1;
    }
    if (s.contains("propertyNames")) {
      // Free keys follow it; declared keys it refuses are dropped (finish checks them).
      n.key_node = compile(s["propertyNames"], where + ".propertyNames", depth + 1);
      if (n.key_node == CompiledSchema::kAny) n.key_node = -1;
      else g_.where.emplace(n.key_node, where + ".propertyNames");
    }
    if (s.contains("required")) {
      const json& req = s["required"];
      if (!req.is_array()) reject(where + ".required", "must be an array of property names");
      for (auto& r : req) {
        if (!r.is_string()) reject(where + ".required", "must be an array of property names");
        const std::string name = r.get<std::string>();
        auto it = std::find(names.begin(), names.end(), name);
        if (it == names.end()) {
          // Required but not declared: its value follows additionalProperties.
          declare(name, n.free_value < 0 ? CompiledSchema::kNever : n.free_value, where + ".required");
          n.declares_keys = true;
          it = names.end() - 1;
        }
        n.required |= uint64_t{1} << (it - names.begin());
      }
    }
    g_.node(id) = std::move(n);
    return id;
  }

  SchemaBuilder::Impl& g_;
  const json& root_;
  std::string param_;
  std::map<std::string, int> refs_;
};

std::vector<SchemaNode> builtin_nodes() {
  std::vector<SchemaNode> n(7);
  n[CompiledSchema::kAny].kind = Kind::Any;
  n[CompiledSchema::kAnyObject].kind = Kind::Object;
  n[CompiledSchema::kAnyObject].free_value = CompiledSchema::kAny;
  n[CompiledSchema::kAnyArray].kind = Kind::Array;
  n[CompiledSchema::kAnyArray].items = CompiledSchema::kAny;
  n[CompiledSchema::kAnyString].kind = Kind::String;
  n[CompiledSchema::kAnyNumber].kind = Kind::Number;
  n[CompiledSchema::kTrueFalseNull].kind = Kind::Literal;
  n[CompiledSchema::kTrueFalseNull].literals = {"true", "false", "null"};
  n[CompiledSchema::kNever].kind = Kind::AnyOf;
  return n;
}

}  // namespace

SchemaBuilder::Impl::Impl() { out.nodes = builtin_nodes(); }

int SchemaBuilder::Impl::add(SchemaNode n, const std::string& at) {
  if (out.nodes.size() >= kMaxSchemaNodes) reject(param.empty() ? at : param, "is too large to enforce");
  out.nodes.push_back(std::move(n));
  return static_cast<int>(out.nodes.size()) - 1;
}

int SchemaBuilder::Impl::literal(std::vector<std::string> texts) {
  SchemaNode n;
  n.kind = Kind::Literal;
  n.literals = std::move(texts);
  return add(std::move(n), param);
}

int SchemaBuilder::Impl::add_pattern(ByteDfa dfa) {
  out.patterns.push_back(std::move(dfa));
  return static_cast<int>(out.patterns.size()) - 1;
}

SchemaBuilder::SchemaBuilder() : impl_(std::make_unique<Impl>()) {}
SchemaBuilder::~SchemaBuilder() = default;

int SchemaBuilder::add_document(const json& schema, const std::string& where) {
  if (impl_->param.empty()) impl_->param = where;
  return DocumentCompiler(*impl_, schema, where).run();
}

int SchemaBuilder::add_node(SchemaNode node) { return impl_->add(std::move(node), impl_->param); }

CompiledSchema SchemaBuilder::finish(int root, const std::string& where) {
  Impl& g = *impl_;
  materialize_all_of(g);
  close_alternatives(g);
  filter_literals(g);
  prepare_patterns(g);
  if (!prune_unproductive(g, root))
    reject(where, "admits no value that constrained decoding can write (its constraints contradict each other, "
                  "or every value would nest without end)");
  g.out.root = root;
  return std::move(g.out);
}

CompiledSchema compile_json_schema(const json& schema, const std::string& param) {
  SchemaBuilder b;
  const int root = b.add_document(schema, param);
  return b.finish(root, param);
}

CompiledSchema any_json_object_schema() {
  CompiledSchema s;
  s.nodes = builtin_nodes();
  s.root = CompiledSchema::kAnyObject;
  return s;
}

}  // namespace ax::server
