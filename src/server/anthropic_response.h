#pragma once
// Anthropic Messages replies: the message object of a blocking reply, and the streamed event
// sequence, which is
//   message_start, ping,
//   per block: content_block_start, content_block_delta..., content_block_stop
//     (thinking: thinking_delta then a signature_delta; text: text_delta; tool_use: input_json_delta),
//   message_delta (stop_reason, stop_sequence, usage.output_tokens), message_stop.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "server/api_error.h"
#include "server/output_blocks.h"

namespace ax::server {

struct AnthropicStop {
  StopKind kind = StopKind::EndOfTurn;
  std::string sequence;  // StopString: the stop sequence that matched
};

// "end_turn", "stop_sequence", "max_tokens", "tool_use".
const char* anthropic_stop_reason(StopKind k);

// A finished block as a content block ({"type": "thinking" | "text" | "tool_use", ...}).
nlohmann::json anthropic_block_json(const OutputBlock& b);

// The message object: {"id", "type": "message", "role", "model", "content", "stop_reason",
// "stop_sequence", "usage"}.
nlohmann::json anthropic_message_json(const std::string& id, const std::string& model, const OutputBlocks& blocks,
                                      const AnthropicStop& stop, int64_t input_tokens, int64_t output_tokens);

// Streaming: events for blocks as they form, appended to out.
class AnthropicEventWriter : public BlockSink {
 public:
  std::string out;
  void open(size_t index, const OutputBlock& block) override;
  void append(size_t index, const OutputBlock& block, const std::string& text) override;
  void close(size_t index, const OutputBlock& block) override;

  static std::string message_start(const std::string& id, const std::string& model, int64_t input_tokens);
  static std::string message_end(const AnthropicStop& stop, int64_t input_tokens, int64_t output_tokens);
  static std::string ping();
  static std::string error(const ApiError& e);
};

}  // namespace ax::server
