// Forced tool calls: each tool's parameters are their own schema document, as Pydantic and Zod
// write them ($defs and $ref inside), and errors name the client's own fields.
#include <gtest/gtest.h>

#include "server/api_error.h"
#include "server/json_automaton.h"
#include "schema_support.h"
#include "server/tool_call_schema.h"

namespace ax::server {
namespace {

using nlohmann::json;

using test::accepts;

std::vector<ToolSpec> tools_with(json parameters) {
  std::vector<ToolSpec> tools(2);
  tools[0].name = "noop";
  tools[0].parameters = {{"type", "object"}, {"properties", json::object()}};
  tools[1].name = "ship";
  tools[1].parameters = std::move(parameters);
  return tools;
}

// Pydantic: nested models under $defs, referenced with $ref from the parameters' root.
TEST(ToolCallSchema, ParametersWithDefsAndRefs) {
  const json params = json::parse(R"({
    "$defs": {"Address": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
                          "required": ["city"]}},
    "type": "object", "properties": {"to": {"$ref": "#/$defs/Address"}, "items": {"type": "array", "items": {"$ref": "#/$defs/Address"}}},
    "required": ["to"]})");
  for (ToolChoice choice : {ToolChoice{ToolChoice::Mode::Required, ""}, ToolChoice{ToolChoice::Mode::Named, "ship"}}) {
    CompiledSchema s = compile_tool_call_schema(tools_with(params), choice);
    EXPECT_TRUE(accepts(s, "<tool_call>\n{\"name\": \"ship\", \"arguments\": {\"to\": {\"city\": \"Oslo\", \"zip\": \"01234\"}}}\n</tool_call>"));
    EXPECT_FALSE(accepts(s, "<tool_call>\n{\"name\": \"ship\", \"arguments\": {\"to\": {\"zip\": \"01234\"}}}\n</tool_call>"));
    EXPECT_FALSE(accepts(s, "<tool_call>\n{\"name\": \"ship\", \"arguments\": {\"to\": {\"city\": \"x\", \"zip\": \"1\"}}}\n</tool_call>"));
  }
}

// Errors name tools[i].function.parameters..., never the wrapper the server builds around them.
TEST(ToolCallSchema, ErrorsNameTheClientsFields) {
  auto param_of = [](const json& params) -> std::string {
    try {
      compile_tool_call_schema(tools_with(params), ToolChoice{ToolChoice::Mode::Required, ""});
    } catch (const ApiError& e) {
      EXPECT_EQ(std::string(e.what()).find("arguments"), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find("anyOf"), std::string::npos) << e.what();
      return e.param();
    }
    return "<accepted>";
  };
  EXPECT_EQ(param_of(json::parse(R"({"type":"object","properties":{"x":{"not":{"type":"null"}}}})")),
            "tools[1].function.parameters.properties.x.not");
  EXPECT_EQ(param_of(json::parse(R"({"type":"object","properties":{"x":{"$ref":"#/$defs/Missing"}}})")),
            "tools[1].function.parameters.properties.x.$ref");
  EXPECT_EQ(param_of(json::parse(R"({"$defs":{"A":{"$ref":"#/$defs/A"}},"type":"object","properties":{"a":{"$ref":"#/$defs/A"}},"required":["a"]})")),
            "tools[1].function.parameters.$defs.A.$ref");
}

}  // namespace
}  // namespace ax::server
