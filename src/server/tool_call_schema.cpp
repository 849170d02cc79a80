#include "server/tool_call_schema.h"

#include "server/api_error.h"
#include "server/tool_call_parser.h"

namespace ax::server {

CompiledSchema compile_tool_call_schema(const std::vector<ToolSpec>& tools, const ToolChoice& choice) {
  // One alternative per allowed tool: {"name": const, "arguments": parameters}. Each tool's
  // parameter schema is its own document for $ref purposes, so it is wrapped under $defs.
  nlohmann::json alternatives = nlohmann::json::array();
  nlohmann::json defs = nlohmann::json::object();
  for (size_t i = 0; i < tools.size(); ++i) {
    const ToolSpec& t = tools[i];
    if (choice.mode == ToolChoice::Mode::Named && t.name != choice.name) continue;
    alternatives.push_back({{"type", "object"},
                            {"properties", {{"name", {{"const", t.name}}}, {"arguments", t.parameters}}},
                            {"required", {"name", "arguments"}}});
  }
  nlohmann::json schema = alternatives.size() == 1 ? alternatives[0] : nlohmann::json{{"anyOf", alternatives}};
  // Report errors against the tools array the client sent.
  CompiledSchema compiled;
  try {
    compiled = compile_json_schema(schema, "tools");
  } catch (const ApiError& e) {
    throw ApiError(400, std::string(e.what()) + " (in a tool's parameters)", e.type(), "tools", e.code());
  }
  compiled.prefix = std::string(ToolCallParser::kOpen) + "\n";
  compiled.suffix = "\n" + std::string(ToolCallParser::kClose);
  return compiled;
}

}  // namespace ax::server
