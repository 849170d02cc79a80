#include "server/prompt_guard.h"

#include <optional>

#include "server/api_error.h"

namespace ax::server {
namespace {

using nlohmann::ordered_json;

constexpr std::string_view kOpenMark = "\xEF\xB7\x90";   // U+FDD0
constexpr std::string_view kCloseMark = "\xEF\xB7\x91";  // U+FDD1

// The first control token's text that s spells, or nullptr.
const std::string* spelled_control(std::string_view s, const std::vector<std::string>& controls) {
  for (const auto& c : controls)
    if (s.find(c) != std::string_view::npos) return &c;
  return nullptr;
}

// Wraps in marks every string below v that spells a control token; remembers the first one's field
// and text. A key spelling one cannot be wrapped (templates print keys as they are): its field is
// remembered with no way to mark it, which makes the caller refuse the request.
struct Marker {
  explicit Marker(const std::vector<std::string>& c) : controls(c) {}
  const std::vector<std::string>& controls;
  std::string field, text;
  bool unmarkable = false;

  void note(const std::string& at, const std::string& control, bool can_mark) {
    if (field.empty()) {
      field = at;
      text = control;
    }
    unmarkable |= !can_mark;
  }
  void mark(ordered_json& v, const std::string& at) {
    if (v.is_string()) {
      if (const std::string* c = spelled_control(v.get_ref<const std::string&>(), controls)) {
        note(at, *c, true);
        v = std::string(kOpenMark) + v.get<std::string>() + std::string(kCloseMark);
      }
    } else if (v.is_array()) {
      for (size_t i = 0; i < v.size(); ++i) mark(v[i], at + "[" + std::to_string(i) + "]");
    } else if (v.is_object()) {
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (const std::string* c = spelled_control(it.key(), controls)) note(at + "." + it.key(), *c, false);
        mark(it.value(), at + "." + it.key());
      }
    }
  }
};

// The client spans of `prompt`, from its render with marks: marks removed, `marked` must read
// exactly as `prompt`, and every open mark must close before the next opens.
std::optional<std::vector<Tokenizer::Span>> spans_from_marks(std::string_view marked, std::string_view prompt) {
  if (prompt.find(kOpenMark) != std::string_view::npos || prompt.find(kCloseMark) != std::string_view::npos)
    return std::nullopt;  // the client's own text holds a mark: positions cannot be trusted
  std::vector<Tokenizer::Span> spans;
  std::string plain;
  plain.reserve(prompt.size());
  constexpr size_t kNone = std::string::npos;
  size_t open = kNone;
  for (size_t i = 0; i < marked.size();) {
    if (marked.compare(i, kOpenMark.size(), kOpenMark) == 0) {
      if (open != kNone) return std::nullopt;
      open = plain.size();
      i += kOpenMark.size();
    } else if (marked.compare(i, kCloseMark.size(), kCloseMark) == 0) {
      if (open == kNone) return std::nullopt;
      spans.emplace_back(open, plain.size());
      open = kNone;
      i += kCloseMark.size();
    } else {
      plain += marked[i++];
    }
  }
  if (open != kNone || plain != prompt) return std::nullopt;
  return spans;
}

}  // namespace

std::string render_template(const ChatTemplate& tpl, const ordered_json& messages, const ChatTemplateOptions& opt) {
  try {
    return tpl.render(messages, opt);
  } catch (const std::exception& e) {
    bad_param("messages", "cannot be rendered with the model's chat template: {}", e.what());
  }
}

std::vector<std::string> control_token_texts(const Tokenizer& tok) {
  std::vector<std::string> out;
  for (int32_t id = 0; id < tok.vocab_size(); ++id)
    if (tok.is_special(id)) {
      std::string piece = tok.token_piece(id);
      if (!piece.empty()) out.push_back(std::move(piece));
    }
  return out;
}

std::vector<int32_t> render_guarded(const ChatTemplate& tpl, const Tokenizer& tok,
                                    const std::vector<std::string>& control_texts, const TemplateInputs& in) {
  const std::string prompt = render_template(tpl, in.messages, in.options);
  Marker marker(control_texts);
  ordered_json messages = in.messages;
  for (size_t i = 0; i < messages.size(); ++i) marker.mark(messages[i], in.message_field(i));
  ChatTemplateOptions options = in.options;
  marker.mark(options.tools, "tools");
  marker.mark(options.extra_context, "chat_template_kwargs");
  // The template writes the special tokens itself (BOS included where the model wants one).
  if (marker.field.empty()) return tok.encode(prompt, /*add_special=*/false, /*parse_special=*/true);
  std::optional<std::vector<Tokenizer::Span>> spans;
  if (!marker.unmarkable) spans = spans_from_marks(render_template(tpl, messages, options), prompt);
  if (!spans)
    bad_param(marker.field,
              "spells the control token '{}', which this model's chat template does not let the server keep as "
              "plain text; remove it",
              marker.text);
  return tok.encode_with_plain_spans(prompt, /*add_special=*/false, *spans);
}

}  // namespace ax::server
