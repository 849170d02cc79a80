#pragma once
// The thought of a reasoning model split from its answer, on streamed text. Two formats:
//   Think:   "<think>\n...thought...\n</think>\n\nanswer" (Qwen3, DeepSeek-R1, GLM, ...). Templates
//            that open the block themselves (the generation prompt ends in "<think>\n") make the
//            output start inside it; starts_inside says so.
//   Channels: gpt-oss's harmony format, "<|channel|>analysis<|message|>thought<|end|>
//            <|start|>assistant<|channel|>final<|message|>answer" (the text must keep the special
//            tokens; the route decodes them itself). A message addressed to a function
//            ("<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{...}<|call|>",
//            the recipient also before the channel) is a tool call with those JSON arguments.
// Text comes out as soon as it cannot be part of a tag; a partial tag is held back until the next
// text decides it. A thought that never closes is all thought (the answer was cut off).
#include <string>
#include <string_view>
#include <vector>

#include "server/tool_call_parser.h"

namespace ax::server {

enum class ReasoningFormat { None, Think, Channels };

struct ReasoningSplit {
  std::string reasoning;
  std::string content;
  std::vector<ParsedToolCall> calls;  // Channels: complete messages to functions
};

class ReasoningParser {
 public:
  static constexpr std::string_view kThinkOpen = "<think>";
  static constexpr std::string_view kThinkClose = "</think>";

  ReasoningParser(ReasoningFormat format, bool starts_inside);

  ReasoningSplit push(std::string_view text);
  ReasoningSplit finish();  // end of output: whatever is held back comes out
  bool inside_reasoning() const { return state_ == State::Reasoning; }

 private:
  // Header: channels, between <|start|> and <|message|>; ToolCall: the body of a message to a function.
  enum class State { Content, Reasoning, Header, ToolCall };
  void drain(ReasoningSplit& out, bool at_end);
  void drain_think(ReasoningSplit& out, bool at_end);
  void drain_channels(ReasoningSplit& out, bool at_end);
  void emit(ReasoningSplit& out, std::string_view text) const;
  void emit_call(ReasoningSplit& out, std::string_view body);

  ReasoningFormat format_;
  State state_;
  bool seen_content_ = false;  // Think: "<think>" opens a thought only before any answer text
  bool skip_newlines_ = false;  // Think: the thought just closed; newlines before the answer are dropped
  std::string buffer_;
  std::string call_name_;  // ToolCall: the function the message is addressed to
};

// Which format a chat template's source speaks (None: it never mentions a thought).
ReasoningFormat reasoning_format_of_template(std::string_view template_source);

// Whether a rendered prompt leaves the thought open: its last "<think>" comes after its last
// "</think>" (the template opened the block for the model), or a channels prompt ends in an
// analysis channel header.
bool prompt_opens_reasoning(ReasoningFormat format, std::string_view prompt_text);

}  // namespace ax::server
