#include "server/responses_response.h"

#include "server/openai_response.h"
#include "server/sse_stream.h"

namespace ax::server {

using nlohmann::json;

ResponseWriter::ResponseWriter(std::string id, std::string model, json echo, std::string previous_response_id,
                               bool store, bool streaming)
    : id_(std::move(id)), model_(std::move(model)), previous_response_id_(std::move(previous_response_id)),
      echo_(std::move(echo)), store_(store), streaming_(streaming), created_at_(unix_time_now()) {}

std::string ResponseWriter::take_events() { return std::exchange(events_, {}); }

void ResponseWriter::event(const std::string& type, json data) {
  if (!streaming_) return;
  data["type"] = type;
  data["sequence_number"] = sequence_++;
  events_ += sse_event(type, data);
}

const std::string& ResponseWriter::item_id(size_t index, const OutputBlock& block) {
  while (item_ids_.size() <= index) item_ids_.emplace_back();
  if (item_ids_[index].empty()) {
    const char* prefix = block.kind == OutputBlock::Kind::Reasoning ? "rs" : block.kind == OutputBlock::Kind::Text ? "msg" : "fc";
    item_ids_[index] = new_response_id(prefix, '_');
  }
  return item_ids_[index];
}

json ResponseWriter::item(size_t index, const OutputBlock& block, bool done) const {
  const std::string& id = item_ids_[index];
  const char* status = done ? "completed" : "in_progress";
  switch (block.kind) {
    case OutputBlock::Kind::Reasoning: {
      json content = json::array();
      if (done) content.push_back({{"type", "reasoning_text"}, {"text", block.text}});
      return {{"type", "reasoning"}, {"id", id}, {"summary", json::array()}, {"content", content}};
    }
    case OutputBlock::Kind::ToolCall:
      return {{"type", "function_call"}, {"id", id}, {"call_id", block.call.id}, {"name", block.call.name},
              {"arguments", done ? block.text : ""}, {"status", status}};
    case OutputBlock::Kind::Text: break;
  }
  json content = json::array();
  if (done) content.push_back({{"type", "output_text"}, {"text", block.text}, {"annotations", json::array()}});
  return {{"type", "message"}, {"id", id}, {"status", status}, {"role", "assistant"}, {"content", content}};
}

void ResponseWriter::open(size_t index, const OutputBlock& block) {
  const std::string id = item_id(index, block);
  event("response.output_item.added", {{"output_index", index}, {"item", item(index, block, false)}});
  if (block.kind == OutputBlock::Kind::Text)
    event("response.content_part.added", {{"item_id", id}, {"output_index", index}, {"content_index", 0},
                                          {"part", {{"type", "output_text"}, {"text", ""}, {"annotations", json::array()}}}});
  else if (block.kind == OutputBlock::Kind::Reasoning)
    event("response.content_part.added", {{"item_id", id}, {"output_index", index}, {"content_index", 0},
                                          {"part", {{"type", "reasoning_text"}, {"text", ""}}}});
}

void ResponseWriter::append(size_t index, const OutputBlock& block, const std::string& text) {
  const std::string& id = item_ids_[index];
  if (block.kind == OutputBlock::Kind::ToolCall)
    event("response.function_call_arguments.delta", {{"item_id", id}, {"output_index", index}, {"delta", text}});
  else
    event(block.kind == OutputBlock::Kind::Text ? "response.output_text.delta" : "response.reasoning_text.delta",
          {{"item_id", id}, {"output_index", index}, {"content_index", 0}, {"delta", text}});
}

void ResponseWriter::close(size_t index, const OutputBlock& block) {
  const std::string& id = item_ids_[index];
  if (block.kind == OutputBlock::Kind::ToolCall) {
    event("response.function_call_arguments.done",
          {{"item_id", id}, {"output_index", index}, {"name", block.call.name}, {"arguments", block.text}});
  } else {
    const bool text = block.kind == OutputBlock::Kind::Text;
    event(text ? "response.output_text.done" : "response.reasoning_text.done",
          {{"item_id", id}, {"output_index", index}, {"content_index", 0}, {"text", block.text}});
    json part = text ? json{{"type", "output_text"}, {"text", block.text}, {"annotations", json::array()}}
                     : json{{"type", "reasoning_text"}, {"text", block.text}};
    event("response.content_part.done", {{"item_id", id}, {"output_index", index}, {"content_index", 0}, {"part", part}});
  }
  json done = item(index, block, true);
  event("response.output_item.done", {{"output_index", index}, {"item", done}});
  while (output_.size() <= index) output_.push_back(nullptr);
  output_[index] = std::move(done);
}

std::string ResponseWriter::start_events() {
  event("response.created", {{"response", response()}});
  event("response.in_progress", {{"response", response()}});
  return take_events();
}

std::string ResponseWriter::finish(const OutputBlocks& blocks, bool length, const ResponseUsage& u) {
  // Blocks closed without a sink (blocking replies) get their items here.
  for (size_t i = 0; i < blocks.blocks().size(); ++i) {
    if (i < output_.size() && !output_[i].is_null()) continue;
    item_id(i, blocks.blocks()[i]);
    while (output_.size() <= i) output_.push_back(nullptr);
    output_[i] = item(i, blocks.blocks()[i], true);
  }
  status_ = length ? "incomplete" : "completed";
  if (length) incomplete_details_ = {{"reason", "max_output_tokens"}};
  usage_ = {{"input_tokens", u.input_tokens},
            {"input_tokens_details", {{"cached_tokens", u.cached_tokens}}},
            {"output_tokens", u.output_tokens},
            {"output_tokens_details", {{"reasoning_tokens", u.reasoning_tokens}}},
            {"total_tokens", u.input_tokens + u.output_tokens}};
  event(length ? "response.incomplete" : "response.completed", {{"response", response()}});
  return take_events();
}

std::string ResponseWriter::error_event(const ApiError& e) {
  status_ = "failed";
  error_ = {{"code", e.code().empty() ? "server_error" : e.code()}, {"message", e.what()}};
  event("error", {{"code", error_["code"]}, {"message", e.what()}, {"param", e.param().empty() ? json(nullptr) : json(e.param())}});
  event("response.failed", {{"response", response()}});
  return take_events();
}

json ResponseWriter::response() const {
  json r = {{"id", id_}, {"object", "response"}, {"created_at", created_at_}, {"status", status_},
            {"error", error_}, {"incomplete_details", incomplete_details_}, {"model", model_}, {"output", output_},
            {"previous_response_id", previous_response_id_.empty() ? json(nullptr) : json(previous_response_id_)},
            {"store", store_}, {"truncation", "disabled"}, {"usage", usage_}};
  for (auto& [key, value] : echo_.items()) r[key] = value;
  return r;
}

}  // namespace ax::server
