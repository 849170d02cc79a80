#include "server/output_blocks.h"

namespace ax::server {

void OutputBlocks::close_open(BlockSink* sink) {
  if (!open_) return;
  open_ = false;
  if (sink) sink->close(blocks_.size() - 1, blocks_.back());
}

void OutputBlocks::extend(OutputBlock::Kind kind, const std::string& text, BlockSink* sink) {
  if (text.empty()) return;
  if (!open_ || blocks_.back().kind != kind) {
    close_open(sink);
    blocks_.push_back({kind, "", {}});
    open_ = true;
    if (sink) sink->open(blocks_.size() - 1, blocks_.back());
  }
  blocks_.back().text += text;
  if (sink) sink->append(blocks_.size() - 1, blocks_.back(), text);
}

void OutputBlocks::feed(ChatDelta delta, BlockSink* sink) {
  extend(OutputBlock::Kind::Reasoning, delta.reasoning, sink);
  extend(OutputBlock::Kind::Text, delta.content, sink);
  for (ParsedToolCall& call : delta.calls) {
    close_open(sink);
    const std::string arguments = call.arguments;
    blocks_.push_back({OutputBlock::Kind::ToolCall, "", std::move(call)});
    const size_t index = blocks_.size() - 1;
    if (sink) sink->open(index, blocks_.back());
    blocks_.back().text = arguments;
    if (sink) sink->append(index, blocks_.back(), arguments);
    if (sink) sink->close(index, blocks_.back());
  }
}

void OutputBlocks::finish(BlockSink* sink) { close_open(sink); }

bool OutputBlocks::has_tool_calls() const {
  for (const OutputBlock& b : blocks_)
    if (b.kind == OutputBlock::Kind::ToolCall) return true;
  return false;
}

}  // namespace ax::server
