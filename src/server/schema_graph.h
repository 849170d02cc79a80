#pragma once
// Internal to the schema compiler (json_schema.h): the node graph being built and the passes
// SchemaBuilder::finish runs over it, in this order:
//   1. materialize_all_of   (schema_intersect.cpp) allOf nodes become their members' intersection
//   2. close_alternatives   (schema_finish.cpp)    anyOf options flattened; cycles without input refused
//   3. filter_literals      (schema_finish.cpp)    enum/const values kept only where other members accept them
//   4. prepare_patterns     (schema_finish.cpp)    length tables for patterns under length limits
//   5. prune_unproductive   (schema_finish.cpp)    what can never finish is cut off
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>

#include "server/json_schema.h"

namespace ax::server {

inline constexpr size_t kMaxSchemaNodes = 4096;
inline constexpr size_t kMaxKeys = 64;      // the automaton tracks seen keys in a 64-bit mask
inline constexpr size_t kMaxLiterals = 64;  // and candidate literals likewise

// The tighter of two upper limits where -1 means none.
inline int64_t tighter_max(int64_t a, int64_t b) { return a < 0 ? b : b < 0 ? a : std::min(a, b); }

struct SchemaBuilder::Impl {
  Impl();
  CompiledSchema out;
  std::map<int, std::string> ref_where;  // $ref alias node -> the field holding the $ref
  std::map<int, std::string> where;      // allOf and propertyNames nodes -> their field, for errors
  std::string param;                     // the first document's field (whole-schema errors)

  // Adds a node; a 400 naming `at` past kMaxSchemaNodes.
  int add(SchemaNode n, const std::string& at);
  int literal(std::vector<std::string> texts);
  int add_pattern(ByteDfa dfa);
  SchemaNode& node(int id) { return out.nodes[id]; }
};

// A 400 for a cycle of nodes expanded without reading input (path: the nodes in order, the
// cycle closing after the last): names the $ref nearest to where it closes.
[[noreturn]] void reject_cycle(const SchemaBuilder::Impl& g, const std::vector<int>& path);

void materialize_all_of(SchemaBuilder::Impl& g);
void close_alternatives(SchemaBuilder::Impl& g);
void filter_literals(SchemaBuilder::Impl& g);
void prepare_patterns(SchemaBuilder::Impl& g);
// False when the root can never be finished.
bool prune_unproductive(SchemaBuilder::Impl& g, int root);

}  // namespace ax::server
