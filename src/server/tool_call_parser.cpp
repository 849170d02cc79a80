#include "server/tool_call_parser.h"

#include <atomic>
#include <random>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "server/openai_request.h"

namespace ax::server {
namespace {

std::string new_call_id() {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t salt = std::random_device{}() * 0x9E3779B97F4A7C15ull;
  uint64_t x = (counter.fetch_add(1) + 1) * 0xBF58476D1CE4E5B9ull ^ salt;
  return fmt::format("call_{:016x}", x);
}

}  // namespace

size_t partial_tag_suffix(std::string_view text, std::string_view tag) {
  for (size_t n = std::min(text.size(), tag.size() - 1); n > 0; --n)
    if (text.substr(text.size() - n) == tag.substr(0, n)) return n;
  return 0;
}

bool parse_tool_call_json(std::string_view body, ParsedToolCall& call) {
  // The model's text: a call nested absurdly deep stays content (dumping it would recurse).
  if (!json_depth_at_most(body, kMaxJsonDepth)) return false;
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return false;
  auto name = j.find("name");
  if (name == j.end() || !name->is_string() || name->get<std::string>().empty()) return false;
  call.name = name->get<std::string>();
  auto args = j.find("arguments");
  if (args == j.end() || args->is_null()) {
    call.arguments = "{}";
  } else if (args->is_string()) {
    call.arguments = args->get<std::string>();  // already serialised by the model
  } else {
    call.arguments = args->dump();
  }
  call.id = new_call_id();
  return true;
}

bool ToolCallParser::emit_call(const std::string& body, ToolParseOutput& out) {
  ParsedToolCall call;
  if (!parse_tool_call_json(body, call)) return false;
  out.calls.push_back(std::move(call));
  return true;
}

void ToolCallParser::drain(ToolParseOutput& out, bool at_end) {
  while (true) {
    if (!in_call_) {
      size_t open = buffer_.find(kOpen);
      if (open == std::string::npos) {
        // Hold back a possible start of "<tool_call>" until the next text decides it.
        size_t keep = at_end ? 0 : partial_tag_suffix(buffer_, kOpen);
        out.content += buffer_.substr(0, buffer_.size() - keep);
        buffer_.erase(0, buffer_.size() - keep);
        return;
      }
      out.content += buffer_.substr(0, open);
      buffer_.erase(0, open + kOpen.size());
      in_call_ = true;
    }
    size_t close = buffer_.find(kClose);
    if (close == std::string::npos) {
      if (!at_end) return;
      // Unclosed at the end: still a call if its JSON is whole.
      if (!emit_call(buffer_, out)) out.content += std::string(kOpen) + buffer_;
      buffer_.clear();
      in_call_ = false;
      return;
    }
    std::string body = buffer_.substr(0, close);
    if (!emit_call(body, out)) out.content += std::string(kOpen) + body + std::string(kClose);
    buffer_.erase(0, close + kClose.size());
    in_call_ = false;
  }
}

ToolParseOutput ToolCallParser::push(std::string_view text) {
  ToolParseOutput out;
  buffer_ += text;
  drain(out, false);
  return out;
}

ToolParseOutput ToolCallParser::finish() {
  ToolParseOutput out;
  drain(out, true);
  return out;
}

}  // namespace ax::server
