#pragma once
// What every chat-shaped API shares (OpenAI chat completions, Anthropic Messages, OpenAI
// Responses): a ChatRequest becomes engine requests (the output grammar of response_format or a
// forced tool call, the prompt rendered with the model's template, thinking controls handed to the
// template, a thinking budget enforced), and each choice's output text becomes reasoning, answer
// text and tool calls. The routes translate their own request and response shapes around this.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/openai_request.h"
#include "server/reasoning_parser.h"
#include "server/serving.h"
#include "server/tool_call_parser.h"

namespace ax {
class StreamDecoder;
}

namespace ax::server {

// Thinking controls, whichever API they came from.
struct ThinkingOptions {
  std::optional<bool> enabled;           // the template's enable_thinking
  std::optional<std::string> effort;     // the template's reasoning_effort
  std::optional<int64_t> budget_tokens;  // thought tokens at most (ThinkingBudget)
  std::string budget_param;              // the request field the budget came from (for errors)
};

// OpenAI's reasoning effort ("none", "minimal", "low", "medium", "high"): "none" turns thinking
// off; the rest reach the template as reasoning_effort ("minimal" as "low", the least templates
// know). Anything else is a 400 naming param.
ThinkingOptions thinking_from_effort(const std::string& effort, const std::string& param);

struct ChatJob {
  std::vector<Request> requests;  // one per choice
  int64_t prompt_tokens = 0;
  bool tools_on = false;          // tools given and tool_choice is not "none"
  ReasoningFormat reasoning = ReasoningFormat::None;
  bool reasoning_starts_inside = false;  // the prompt opened the thought
};

// The grammar response_format asks for (json_object: any JSON object; json_schema: that schema,
// errors naming rf.schema_param), or null for plain text. Shared by every route that takes one.
std::shared_ptr<const CompiledSchema> response_format_grammar(const ResponseFormat& rf);

// raw: the body in OpenAI chat shape with key order kept (messages, tools, chat_template_kwargs);
// thinking controls are added to its chat_template_kwargs unless the client set them there.
ChatJob prepare_chat(ServingContext& ctx, const ChatRequest& cr, nlohmann::ordered_json raw,
                     const ThinkingOptions& thinking);

// The prompt of a chat request as the template renders it, in tokens (count_tokens, /tokenize).
std::vector<int32_t> chat_prompt_tokens(ServingContext& ctx, const ChatRequest& cr, nlohmann::ordered_json raw,
                                        const ThinkingOptions& thinking);

// What one step of a choice's output adds.
struct ChatDelta {
  std::string reasoning;
  std::string content;
  std::vector<ParsedToolCall> calls;
  bool empty() const { return reasoning.empty() && content.empty() && calls.empty(); }
};

// One choice's output, split as it streams: the thought first (ReasoningParser), then tool calls
// out of the answer (ToolCallParser, when tools are on).
class ChatOutput {
 public:
  ChatOutput(const ServingContext& ctx, const ChatJob& job);
  ~ChatOutput();
  ChatDelta push(const Event& e);  // a Token or the (normal) Finish event
  // Output tokens spent thinking: those of events whose text went to the thought (a token that
  // closes it counts as thought).
  int64_t reasoning_tokens() const { return reasoning_tokens_; }

 private:
  const ServingContext& ctx_;
  ReasoningFormat format_;
  ReasoningParser reasoning_;
  std::unique_ptr<ToolCallParser> tools_;
  std::unique_ptr<StreamDecoder> special_decoder_;  // channels: the text with its special tokens
  int64_t reasoning_tokens_ = 0;
};

// The stop reason of a finished choice, as the three APIs tell it apart.
enum class StopKind { EndOfTurn, StopString, Length, ToolCalls };
StopKind stop_kind(const Event& finish, bool made_tool_calls, const std::vector<std::string>& stop_strings);

}  // namespace ax::server
