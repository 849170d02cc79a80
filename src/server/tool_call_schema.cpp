#include "server/tool_call_schema.h"

#include "server/tool_call_parser.h"

namespace ax::server {

CompiledSchema compile_tool_call_schema(const std::vector<ToolSpec>& tools, const ToolChoice& choice) {
  // One alternative per allowed tool: {"name": <its name>, "arguments": <its parameters>}. Each
  // tool's parameters are a document of their own ($ref and $defs resolve inside them), and errors
  // name them as the client wrote them: tools[i].function.parameters...
  SchemaBuilder b;
  SchemaNode any_of;
  any_of.kind = SchemaNode::Kind::AnyOf;
  for (size_t i = 0; i < tools.size(); ++i) {
    const ToolSpec& t = tools[i];
    if (choice.mode == ToolChoice::Mode::Named && t.name != choice.name) continue;
    SchemaNode name;
    name.kind = SchemaNode::Kind::Literal;
    name.literals = {nlohmann::json(t.name).dump()};
    SchemaNode call;
    call.kind = SchemaNode::Kind::Object;
    call.keys = {"\"name\"", "\"arguments\""};
    call.key_nodes = {b.add_node(std::move(name)),
                      b.add_document(t.parameters, "tools[" + std::to_string(i) + "].function.parameters")};
    call.required = 0b11;
    call.declares_keys = true;
    any_of.options.push_back(b.add_node(std::move(call)));
  }
  const int root = any_of.options.size() == 1 ? any_of.options[0] : b.add_node(std::move(any_of));
  CompiledSchema compiled = b.finish(root, choice.mode == ToolChoice::Mode::Named ? "tool_choice" : "tools");
  compiled.prefix = std::string(ToolCallParser::kOpen) + "\n";
  compiled.suffix = "\n" + std::string(ToolCallParser::kClose);
  return compiled;
}

}  // namespace ax::server
