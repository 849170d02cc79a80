#pragma once
// A reply as the Anthropic Messages and OpenAI Responses APIs present it: a sequence of blocks
// (a thought, text, tool calls) in the order the model produced them, each opened, extended and
// closed. Both APIs' streams are this sequence in their own event names; their blocking replies
// are the finished blocks.
#include <cstddef>
#include <string>
#include <vector>

#include "server/chat_generation.h"

namespace ax::server {

struct OutputBlock {
  enum class Kind { Reasoning, Text, ToolCall };
  Kind kind = Kind::Text;
  std::string text;       // Reasoning, Text: the text so far; ToolCall: the arguments
  ParsedToolCall call;    // ToolCall
};

// Receives the blocks as they form (the streaming routes write events from these).
class BlockSink {
 public:
  virtual ~BlockSink() = default;
  virtual void open(size_t index, const OutputBlock& block) = 0;
  virtual void append(size_t index, const OutputBlock& block, const std::string& text) = 0;
  virtual void close(size_t index, const OutputBlock& block) = 0;
};

class OutputBlocks {
 public:
  // A thought extends an open thought block, text an open text block; anything else closes the
  // open block first. A tool call is a block of its own: opened, given its arguments, closed.
  void feed(ChatDelta delta, BlockSink* sink);
  void finish(BlockSink* sink);  // closes the open block
  const std::vector<OutputBlock>& blocks() const { return blocks_; }
  bool has_tool_calls() const;

 private:
  void extend(OutputBlock::Kind kind, const std::string& text, BlockSink* sink);
  void close_open(BlockSink* sink);
  std::vector<OutputBlock> blocks_;
  bool open_ = false;  // the last block is still open
};

}  // namespace ax::server
