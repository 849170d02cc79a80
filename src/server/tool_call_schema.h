#pragma once
// tool_choice "required" or a named function, enforced: the output is constrained to one
// Hermes-style call, "<tool_call>\n{"name": <a tool>, "arguments": <its parameters>}\n</tool_call>",
// which ToolCallParser then reads back.
#include <vector>

#include "server/json_schema.h"
#include "server/openai_request.h"

namespace ax::server {

// Throws ApiError (400) naming tools[i].function.parameters... when a schema cannot be enforced.
CompiledSchema compile_tool_call_schema(const std::vector<ToolSpec>& tools, const ToolChoice& choice);

}  // namespace ax::server
