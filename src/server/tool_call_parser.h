#pragma once
// Tool calls in the model's own output format, Qwen3 / Hermes style:
//   <tool_call>
//   {"name": "get_weather", "arguments": {"city": "Paris"}}
//   </tool_call>
// The parser runs on streamed text: text outside the tags comes out as content as soon as it
// cannot be the start of a tag; each complete call comes out once its closing tag arrives. A call
// whose JSON does not parse is given back as plain content, so nothing the model wrote is lost.
#include <string>
#include <string_view>
#include <vector>

namespace ax::server {

struct ParsedToolCall {
  std::string id;         // "call_<hex>", unique per call
  std::string name;
  std::string arguments;  // a JSON object serialised, as OpenAI sends it
};

struct ToolParseOutput {
  std::string content;
  std::vector<ParsedToolCall> calls;
};

class ToolCallParser {
 public:
  static constexpr std::string_view kOpen = "<tool_call>";
  static constexpr std::string_view kClose = "</tool_call>";

  ToolParseOutput push(std::string_view text);
  // End of output: a call left open is parsed if its JSON is complete, else returned as content.
  ToolParseOutput finish();

 private:
  void drain(ToolParseOutput& out, bool at_end);
  bool emit_call(const std::string& body, ToolParseOutput& out);

  std::string buffer_;
  bool in_call_ = false;
};

// The length of the longest suffix of text that is a proper prefix of tag: text that may still
// become the tag, held back by the streaming parsers until the next text decides.
size_t partial_tag_suffix(std::string_view text, std::string_view tag);

// Parses one call body ({"name": ..., "arguments": {...} or "..."}); false if it is not one.
bool parse_tool_call_json(std::string_view body, ParsedToolCall& call);

}  // namespace ax::server
