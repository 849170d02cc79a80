#include "server/anthropic_response.h"

#include "server/anthropic_request.h"
#include "server/sse_stream.h"

namespace ax::server {

using nlohmann::json;

const char* anthropic_stop_reason(StopKind k) {
  switch (k) {
    case StopKind::StopString: return "stop_sequence";
    case StopKind::Length: return "max_tokens";
    case StopKind::ToolCalls: return "tool_use";
    case StopKind::EndOfTurn: break;
  }
  return "end_turn";
}

namespace {

// A tool call's arguments as the input object ({} when the model's arguments are not an object).
json tool_input(const std::string& arguments) {
  json input = json::parse(arguments, nullptr, /*allow_exceptions=*/false);
  return input.is_object() ? input : json::object();
}

json usage(int64_t input_tokens, int64_t output_tokens) {
  return {{"input_tokens", input_tokens}, {"output_tokens", output_tokens},
          {"cache_creation_input_tokens", 0}, {"cache_read_input_tokens", 0}};
}

json stop_sequence(const AnthropicStop& stop) {
  return stop.kind == StopKind::StopString ? json(stop.sequence) : json(nullptr);
}

}  // namespace

json anthropic_block_json(const OutputBlock& b) {
  switch (b.kind) {
    case OutputBlock::Kind::Reasoning:
      // A local model's thought carries no signature; clients send it back as they got it.
      return {{"type", "thinking"}, {"thinking", b.text}, {"signature", ""}};
    case OutputBlock::Kind::ToolCall:
      return {{"type", "tool_use"}, {"id", anthropic_tool_id(b.call.id)}, {"name", b.call.name},
              {"input", tool_input(b.text)}};
    case OutputBlock::Kind::Text: break;
  }
  return {{"type", "text"}, {"text", b.text}};
}

json anthropic_message_json(const std::string& id, const std::string& model, const OutputBlocks& blocks,
                            const AnthropicStop& stop, int64_t input_tokens, int64_t output_tokens) {
  json content = json::array();
  for (const OutputBlock& b : blocks.blocks()) content.push_back(anthropic_block_json(b));
  return {{"id", id}, {"type", "message"}, {"role", "assistant"}, {"model", model}, {"content", content},
          {"stop_reason", anthropic_stop_reason(stop.kind)}, {"stop_sequence", stop_sequence(stop)},
          {"usage", usage(input_tokens, output_tokens)}};
}

void AnthropicEventWriter::open(size_t index, const OutputBlock& block) {
  json start;
  if (block.kind == OutputBlock::Kind::Reasoning) start = {{"type", "thinking"}, {"thinking", ""}, {"signature", ""}};
  else if (block.kind == OutputBlock::Kind::Text) start = {{"type", "text"}, {"text", ""}};
  else start = {{"type", "tool_use"}, {"id", anthropic_tool_id(block.call.id)}, {"name", block.call.name}, {"input", json::object()}};
  out += sse_event("content_block_start", {{"type", "content_block_start"}, {"index", index}, {"content_block", start}});
}

void AnthropicEventWriter::append(size_t index, const OutputBlock& block, const std::string& text) {
  json delta;
  if (block.kind == OutputBlock::Kind::Reasoning) delta = {{"type", "thinking_delta"}, {"thinking", text}};
  else if (block.kind == OutputBlock::Kind::Text) delta = {{"type", "text_delta"}, {"text", text}};
  else delta = {{"type", "input_json_delta"}, {"partial_json", text}};
  out += sse_event("content_block_delta", {{"type", "content_block_delta"}, {"index", index}, {"delta", delta}});
}

void AnthropicEventWriter::close(size_t index, const OutputBlock& block) {
  if (block.kind == OutputBlock::Kind::Reasoning)
    out += sse_event("content_block_delta", {{"type", "content_block_delta"}, {"index", index},
                                             {"delta", {{"type", "signature_delta"}, {"signature", ""}}}});
  out += sse_event("content_block_stop", {{"type", "content_block_stop"}, {"index", index}});
}

std::string AnthropicEventWriter::message_start(const std::string& id, const std::string& model, int64_t input_tokens) {
  json message = {{"id", id}, {"type", "message"}, {"role", "assistant"}, {"model", model},
                  {"content", json::array()}, {"stop_reason", nullptr}, {"stop_sequence", nullptr},
                  {"usage", usage(input_tokens, 0)}};
  return sse_event("message_start", {{"type", "message_start"}, {"message", message}});
}

std::string AnthropicEventWriter::message_end(const AnthropicStop& stop, int64_t input_tokens, int64_t output_tokens) {
  return sse_event("message_delta",
                   {{"type", "message_delta"},
                    {"delta", {{"stop_reason", anthropic_stop_reason(stop.kind)}, {"stop_sequence", stop_sequence(stop)}}},
                    {"usage", usage(input_tokens, output_tokens)}}) +
         sse_event("message_stop", {{"type", "message_stop"}});
}

std::string AnthropicEventWriter::ping() { return sse_event("ping", {{"type", "ping"}}); }

std::string AnthropicEventWriter::error(const ApiError& e) { return sse_event("error", e.to_anthropic_json()); }

}  // namespace ax::server
