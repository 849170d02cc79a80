// The schema compiler: what it accepts, what it refuses (a 400 naming the field), and that every
// schema it accepts gives an automaton whose expansion is finite.
#include <gtest/gtest.h>

#include <chrono>

#include "server/api_error.h"
#include "server/json_automaton.h"
#include "server/json_schema.h"

namespace ax::server {
namespace {

using nlohmann::json;

// The param of the 400 compile_json_schema throws, or "<accepted>".
std::string rejected_param(const json& schema) {
  try {
    compile_json_schema(schema, "response_format.json_schema.schema");
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    return e.param();
  }
  return "<accepted>";
}

bool accepts(const CompiledSchema& s, const std::string& text) {
  JsonAutomaton a(s);
  return a.feed(text) && a.can_end();
}

// A $ref cycle that reads no input (through $ref, anyOf or oneOf alone) has no finite expansion:
// it used to send the automaton into unbounded recursion (a segfault). Now it is a 400 naming the
// $ref on the cycle.
TEST(JsonSchemaCompile, RecursionWithoutInputIsRejected) {
  EXPECT_EQ(rejected_param(json::parse(R"({"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/a"}}})")),
            "response_format.json_schema.schema.$defs.a.$ref");
  EXPECT_EQ(rejected_param(json::parse(R"({"anyOf":[{"$ref":"#/$defs/a"},{"type":"string"}],"$defs":{"a":{"$ref":"#"}}})")),
            "response_format.json_schema.schema.anyOf[0].$ref");
  EXPECT_EQ(rejected_param(json::parse(R"({"oneOf":[{"type":"null"},{"$ref":"#"}]})")),
            "response_format.json_schema.schema.oneOf[1].$ref");
  EXPECT_EQ(rejected_param(json::parse(R"({"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/b"},"b":{"anyOf":[{"$ref":"#/$defs/a"}]}}})")),
            "response_format.json_schema.schema.$defs.b.anyOf[0].$ref");
}

// Recursion that reads input (through an object or an array) stays allowed.
TEST(JsonSchemaCompile, RecursionThroughObjectsAndArraysIsAllowed) {
  const json tree = json::parse(R"({"$ref":"#/$defs/node","$defs":{"node":{"anyOf":[{"type":"integer"},
      {"type":"array","items":{"$ref":"#/$defs/node"}},
      {"type":"object","properties":{"left":{"$ref":"#/$defs/node"}}}]}}})");
  CompiledSchema s = compile_json_schema(tree, "schema");
  EXPECT_TRUE(accepts(s, "[1,[2,[]],{\"left\":{\"left\":3}}]"));
  EXPECT_FALSE(accepts(s, "[1,\"x\"]"));
  CompiledSchema self = compile_json_schema(json::parse(R"({"anyOf":[{"type":"string"},{"type":"array","items":{"$ref":"#"}}]})"), "schema");
  EXPECT_TRUE(accepts(self, "[[\"a\"],\"b\",[]]"));
}

// Alternatives nested 2^k ways (each level names the one below twice) expand once per distinct
// leaf: feeding a document takes microseconds, not 2^k stack copies.
TEST(JsonSchemaCompile, NestedAlternativesExpandOnce) {
  json defs = {{"a0", {{"type", "string"}}}};
  const int levels = 24;
  for (int k = 1; k <= levels; ++k) {
    std::string below = "#/$defs/a" + std::to_string(k - 1);
    defs["a" + std::to_string(k)] = {{"anyOf", json::array({{{"$ref", below}}, {{"$ref", below}}})}};
  }
  json schema = {{"$ref", "#/$defs/a" + std::to_string(levels)}, {"$defs", defs}};
  CompiledSchema s = compile_json_schema(schema, "schema");
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(accepts(s, "\"abc\""));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 0.5);
}

// A schema nested deeper than the compiler's limit is a 400, never a stack overflow.
TEST(JsonSchemaCompile, DeepSchemaNestingIsRejected) {
  json s = {{"type", "string"}};
  for (int i = 0; i < 100000; ++i) s = json{{"anyOf", json::array({std::move(s)})}};
  EXPECT_NE(rejected_param(s), "<accepted>");
}

}  // namespace
}  // namespace ax::server
