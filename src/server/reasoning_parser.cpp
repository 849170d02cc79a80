#include "server/reasoning_parser.h"

#include <algorithm>

#include <nlohmann/json.hpp>


namespace ax::server {
namespace {

constexpr std::string_view kChannel = "<|channel|>";
constexpr std::string_view kMessage = "<|message|>";
constexpr std::string_view kEnd[] = {"<|end|>", "<|return|>", "<|call|>"};
// A channel header longer than this is not one (a model that does not speak harmony): its text
// is answer text.
constexpr size_t kMaxHeader = 256;
constexpr std::string_view kToFunction = "to=functions.";

// The function a channel header addresses ("... to=functions.NAME ..."), or "" if none.
std::string recipient_function(std::string_view header) {
  const size_t at = header.find(kToFunction);
  if (at == std::string_view::npos) return "";
  const std::string_view rest = header.substr(at + kToFunction.size());
  return std::string(rest.substr(0, rest.find_first_of(" \t\r\n<")));
}

}  // namespace

ReasoningParser::ReasoningParser(ReasoningFormat format, bool starts_inside)
    : format_(format),
      state_(format == ReasoningFormat::Channels ? (starts_inside ? State::Reasoning : State::Header)
                                                 : (starts_inside ? State::Reasoning : State::Content)) {}

void ReasoningParser::emit(ReasoningSplit& out, std::string_view text) const {
  (state_ == State::Reasoning ? out.reasoning : out.content) += text;
}

void ReasoningParser::emit_call(ReasoningSplit& out, std::string_view body) {
  // The same checks as a Hermes call: arguments that are not a JSON object go back as text.
  ParsedToolCall call;
  const std::string wrapped = "{\"name\": " + nlohmann::json(call_name_).dump() + ", \"arguments\": " + std::string(body) + "}";
  if (!call_name_.empty() && parse_tool_call_json(wrapped, call))
    out.calls.push_back(std::move(call));
  else
    out.content += body;
}

void ReasoningParser::drain_think(ReasoningSplit& out, bool at_end) {
  while (!buffer_.empty()) {
    // Outside a thought only a "<think>" before any answer text opens one (models think first;
    // a later "<think>" is text the answer talks about).
    const bool can_open = state_ == State::Content && !seen_content_;
    if (state_ == State::Content && !can_open) {
      out.content += buffer_;
      buffer_.clear();
      return;
    }
    const std::string_view tag = state_ == State::Reasoning ? kThinkClose : kThinkOpen;
    if (can_open) {
      // Whitespace before the thought is neither thought nor answer.
      const size_t first = buffer_.find_first_not_of(" \t\r\n");
      if (first == std::string::npos) {
        if (at_end) buffer_.clear();
        return;
      }
      const std::string_view rest = std::string_view(buffer_).substr(first);
      if (rest.substr(0, tag.size()) == tag) {
        buffer_.erase(0, first + tag.size());
        state_ = State::Reasoning;
        continue;
      }
      if (!at_end && rest.size() < tag.size() && tag.substr(0, rest.size()) == rest) return;  // may become "<think>"
      seen_content_ = true;
      continue;
    }
    const size_t at = buffer_.find(tag);
    if (at == std::string::npos) {
      const size_t keep = at_end ? 0 : partial_tag_suffix(buffer_, tag);
      emit(out, std::string_view(buffer_).substr(0, buffer_.size() - keep));
      buffer_.erase(0, buffer_.size() - keep);
      return;
    }
    emit(out, std::string_view(buffer_).substr(0, at));
    buffer_.erase(0, at + tag.size());
    // The answer after "</think>" starts after the blank line templates put there; no second
    // thought opens.
    state_ = State::Content;
    seen_content_ = true;
    const size_t text = buffer_.find_first_not_of("\r\n");
    buffer_.erase(0, text == std::string::npos ? buffer_.size() : text);
    if (buffer_.empty()) skip_newlines_ = true;
  }
}

void ReasoningParser::drain_channels(ReasoningSplit& out, bool at_end) {
  while (!buffer_.empty()) {
    if (state_ == State::Header) {
      const size_t at = buffer_.find(kMessage);
      if (at == std::string::npos) {
        if (buffer_.size() > kMaxHeader || at_end) {
          // Not a header after all: answer text.
          out.content += buffer_;
          buffer_.clear();
        }
        return;
      }
      const std::string header = buffer_.substr(0, at);
      const size_t channel = header.rfind(kChannel);
      const std::string name = channel == std::string::npos ? "" : header.substr(channel + kChannel.size());
      // "analysis" is the thought; a message to a function is a tool call; "final" and
      // "commentary" (preambles) are the answer.
      call_name_ = recipient_function(header);
      if (!call_name_.empty())
        state_ = State::ToolCall;
      else
        state_ = name.rfind("analysis", 0) == 0 ? State::Reasoning : State::Content;
      buffer_.erase(0, at + kMessage.size());
      continue;
    }
    size_t end = std::string::npos, end_len = 0;
    for (std::string_view tag : kEnd) {
      const size_t at = buffer_.find(tag);
      if (at < end) end = at, end_len = tag.size();
    }
    if (end == std::string::npos && state_ == State::ToolCall) {
      // A call comes out whole, once its message ends (<|call|> is an end token, so often at the end).
      if (at_end) {
        emit_call(out, buffer_);
        buffer_.clear();
      }
      return;
    }
    if (end == std::string::npos) {
      size_t keep = 0;
      if (!at_end)
        for (std::string_view tag : kEnd) keep = std::max(keep, partial_tag_suffix(buffer_, tag));
      emit(out, std::string_view(buffer_).substr(0, buffer_.size() - keep));
      buffer_.erase(0, buffer_.size() - keep);
      return;
    }
    if (state_ == State::ToolCall)
      emit_call(out, std::string_view(buffer_).substr(0, end));
    else
      emit(out, std::string_view(buffer_).substr(0, end));
    buffer_.erase(0, end + end_len);
    state_ = State::Header;
  }
}

void ReasoningParser::drain(ReasoningSplit& out, bool at_end) {
  if (format_ == ReasoningFormat::None) {
    out.content += buffer_;
    buffer_.clear();
  } else if (format_ == ReasoningFormat::Think) {
    drain_think(out, at_end);
  } else {
    drain_channels(out, at_end);
  }
}

ReasoningSplit ReasoningParser::push(std::string_view text) {
  ReasoningSplit out;
  if (skip_newlines_) {
    const size_t first = text.find_first_not_of("\r\n");
    if (first == std::string_view::npos) return out;
    text.remove_prefix(first);
    skip_newlines_ = false;
  }
  buffer_ += text;
  drain(out, false);
  return out;
}

ReasoningSplit ReasoningParser::finish() {
  ReasoningSplit out;
  drain(out, true);
  return out;
}

ReasoningFormat reasoning_format_of_template(std::string_view source) {
  if (source.find(kChannel) != std::string_view::npos && source.find("analysis") != std::string_view::npos)
    return ReasoningFormat::Channels;
  if (source.find(ReasoningParser::kThinkClose) != std::string_view::npos) return ReasoningFormat::Think;
  return ReasoningFormat::None;
}

bool prompt_opens_reasoning(ReasoningFormat format, std::string_view prompt) {
  if (format == ReasoningFormat::Think) {
    const size_t open = prompt.rfind(ReasoningParser::kThinkOpen);
    const size_t close = prompt.rfind(ReasoningParser::kThinkClose);
    return open != std::string_view::npos && (close == std::string_view::npos || close < open);
  }
  if (format == ReasoningFormat::Channels) {
    constexpr std::string_view kAnalysisHeader = "<|channel|>analysis<|message|>";
    return prompt.size() >= kAnalysisHeader.size() && prompt.substr(prompt.size() - kAnalysisHeader.size()) == kAnalysisHeader;
  }
  return false;
}

}  // namespace ax::server
