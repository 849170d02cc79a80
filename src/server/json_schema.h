#pragma once
// A JSON schema compiled into a small graph of nodes that the JSON automaton (json_automaton.h)
// walks byte by byte. Only keywords the automaton can enforce exactly are accepted; any other
// constraint keyword is a 400 naming it, so "the output matches the schema" is never a half-truth.
//
// Supported: type (one or a list; without one, the type the keywords present imply), properties +
// required, additionalProperties, propertyNames, minProperties, maxProperties, items (a schema,
// or the older array form), prefixItems, minItems, maxItems, minLength, maxLength, pattern,
// format (string_formats.h; int32/int64 on numbers), minimum, maximum, exclusiveMinimum,
// exclusiveMaximum, multipleOf, enum, const, anyOf, oneOf (as anyOf: the alternatives must not
// overlap, which is not checked), allOf (members intersected: objects merge their keys, ranges
// and lengths tighten, patterns intersect), nullable, $ref into the same document (recursion
// allowed where it reads input), boolean schemas, and annotations (title, description, ...).
// Keywords beside a $ref, anyOf, enum... apply together, as allOf would.
//
// The automaton writes a subset of what a schema allows, never more: objects with declared keys
// get declared keys only (each at most once, required ones always); numbers under a range have no
// exponent; strings under a pattern use no \u escapes. After compiling, alternatives that can
// never finish are pruned, so every state the automaton can reach has a way to a valid end
// (within its depth limit); a schema that no value can match is a 400.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/byte_dfa.h"
#include "server/numeric_range.h"

namespace ax::server {

struct SchemaNode {
  // AllOf exists only while compiling (finish() replaces it by the intersection of its options).
  enum class Kind { Any, Object, Array, String, Number, Integer, Literal, AnyOf, AllOf };
  Kind kind = Kind::Any;
  // Object: declared keys as they appear in the output, quotes included ("\"name\"").
  std::vector<std::string> keys;
  std::vector<int> key_nodes;
  uint64_t required = 0;       // bit i: keys[i] is required
  int free_value = -1;         // values of keys not declared (additionalProperties); -1: none may appear
  bool declares_keys = false;  // the schema has "properties" (even empty): only declared keys are
                               // written; otherwise free keys are, following free_value
  int key_node = -1;           // the node free keys follow (propertyNames); -1: any string
  int64_t min_properties = 0, max_properties = -1;
  // Array: position i follows prefix_items[i], later ones items (-1: none).
  std::vector<int> prefix_items;
  int items = -1;
  int64_t min_items = 0, max_items = -1;
  // String (lengths in characters); pattern indexes CompiledSchema::patterns (-1: none).
  int64_t min_length = 0, max_length = -1;
  int pattern = -1;
  std::shared_ptr<const ByteDfa::Lengths> pattern_lengths;  // pattern with a length limit
  // Number / Integer
  NumericRange range;
  // Literal: every allowed value serialised as compact JSON
  std::vector<std::string> literals;
  std::vector<int> literal_filters;  // while compiling: keep only the literals these nodes accept
  // AnyOf / AllOf
  std::vector<int> options;
};

struct CompiledSchema {
  // Nodes 0..6 are built in: any value, object, array, string, number, true/false/null, and a
  // node no value matches (anyOf with no option).
  static constexpr int kAny = 0, kAnyObject = 1, kAnyArray = 2, kAnyString = 3, kAnyNumber = 4,
                       kTrueFalseNull = 5, kNever = 6;
  std::vector<SchemaNode> nodes;
  std::vector<ByteDfa> patterns;
  int root = kAny;
  // Fixed text around the document (a tool call's "<tool_call>\n" ... "\n</tool_call>"). With
  // a suffix, the document must be a closed object or array (its end is then unambiguous).
  std::string prefix, suffix;
};

// Builds one CompiledSchema from one or more schema documents (a tool call combines each tool's
// parameters, each its own document for $ref).
class SchemaBuilder {
 public:
  SchemaBuilder();
  ~SchemaBuilder();
  SchemaBuilder(const SchemaBuilder&) = delete;
  SchemaBuilder& operator=(const SchemaBuilder&) = delete;

  // Compiles a schema document; $ref resolves inside it, errors name `where` and the path below.
  int add_document(const nlohmann::json& schema, const std::string& where);
  int add_node(SchemaNode node);
  // Runs the whole-graph passes (allOf, alternatives, pruning) and returns the schema; a root no
  // value can match is a 400 naming `where`.
  CompiledSchema finish(int root, const std::string& where);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// param names the request field for error messages ("response_format.json_schema.schema").
CompiledSchema compile_json_schema(const nlohmann::json& schema, const std::string& param);
// {"type": "json_object"}: any JSON object.
CompiledSchema any_json_object_schema();

}  // namespace ax::server
