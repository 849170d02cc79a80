#pragma once
// A JSON schema compiled into a small graph of nodes that the JSON automaton (json_automaton.h)
// walks byte by byte. Only keywords the automaton can enforce exactly are accepted; any other
// constraint keyword is a 400 naming it, so "the output matches the schema" is never a half-truth.
//
// Supported: type (single or list), properties + required, additionalProperties (see below),
// items, minItems, maxItems, minLength, maxLength, enum, const, anyOf, oneOf (as anyOf: the
// alternatives must not overlap, which the automaton does not check), allOf with one member,
// nullable, $ref into #/$defs or #/definitions (recursion allowed), boolean schemas.
// Objects with "properties" are generated with declared keys only (any order, each at most once,
// every required key present); that is valid whatever additionalProperties says. Objects without
// "properties" take free keys whose values follow additionalProperties (any JSON when absent).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ax::server {

struct SchemaNode {
  enum class Kind { Any, Object, Array, String, Number, Integer, Literal, AnyOf };
  Kind kind = Kind::Any;
  // Object: keys as they appear in the output, quotes included ("\"name\"").
  std::vector<std::string> keys;
  std::vector<int> key_nodes;
  uint64_t required = 0;   // bit i: keys[i] is required
  int free_value = -1;     // no declared keys: the node of free keys' values; -1: no keys at all
  // Array
  int items = -1;
  int64_t min_items = 0, max_items = -1;
  // String (lengths in characters)
  int64_t min_length = 0, max_length = -1;
  // Literal: every allowed value serialised as compact JSON
  std::vector<std::string> literals;
  // AnyOf
  std::vector<int> options;
};

struct CompiledSchema {
  // Nodes 0..5 are built in: any value, object, array, string, number, and true/false/null.
  static constexpr int kAny = 0, kAnyObject = 1, kAnyArray = 2, kAnyString = 3, kAnyNumber = 4,
                       kTrueFalseNull = 5;
  std::vector<SchemaNode> nodes;
  int root = kAny;
  // Fixed text around the document (a tool call's "<tool_call>\n" ... "\n</tool_call>"). With
  // a suffix, the document must be a closed object or array (its end is then unambiguous).
  std::string prefix, suffix;
};

// param names the request field for error messages ("response_format.json_schema.schema").
CompiledSchema compile_json_schema(const nlohmann::json& schema, const std::string& param);
// {"type": "json_object"}: any JSON object.
CompiledSchema any_json_object_schema();

}  // namespace ax::server
