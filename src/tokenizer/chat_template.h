#pragma once
// Renders a conversation with the model's own chat template (tokenizer_config.json
// "chat_template" or GGUF tokenizer.chat_template), character for character as Hugging Face's
// tokenizer.apply_chat_template(messages, tools=..., add_generation_prompt=..., **kwargs) does.
//
// Pass messages/tools as nlohmann::ordered_json (parse request bodies with ordered_json):
// templates print tool schemas with tojson, which keeps the client's key order, so a sorted
// std::map-backed json would change the prompt.
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenizer/jinja/interpreter.h"

namespace ax {

namespace jinja {
class Template;
}

struct ChatTemplateOptions {
  bool add_generation_prompt = true;
  // HF's continue_final_message: cut the render right after the last message's content so the
  // model continues it (assistant prefill). Incompatible with add_generation_prompt.
  bool continue_final_message = false;
  // Unset: the variable is undefined in the template, as HF does when the tokenizer has none
  // (Qwen3 has no bos_token).
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  nlohmann::ordered_json tools;      // null: tools=None (HF always defines `tools`)
  nlohmann::ordered_json documents;  // null: documents=None
  // More template variables: {"enable_thinking": false}, "date_string", other special tokens.
  nlohmann::ordered_json extra_context = nlohmann::ordered_json::object();
  jinja::RenderLimits limits;
  std::function<std::time_t()> clock;  // strftime_now's clock; empty: the real time
};

class ChatTemplate {
 public:
  // Parses the template; throws ax::Error "chat template line 3, column 14: unknown filter 'foo'".
  explicit ChatTemplate(std::string_view source);
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  // messages: array of {"role", "content", ...} objects (content may be a string, null or a list
  // of parts; tool_calls, tool_call_id, name, reasoning_content pass through as given).
  // Thread-safe. Throws ax::Error "chat template line L, column C: why" when rendering fails,
  // including the template's own raise_exception("...") messages.
  std::string render(const nlohmann::ordered_json& messages, const ChatTemplateOptions& options) const;

  const std::string& source() const;

 private:
  std::unique_ptr<jinja::Template> tpl_;
};

// The plain ChatML layout (<|im_start|>role\ncontent<|im_end|>\n ... <|im_start|>assistant\n),
// for a model without a usable template, used only when the user asks for it. Content parts
// of type "text" are concatenated; other parts are skipped.
std::string render_chatml(const nlohmann::ordered_json& messages, bool add_generation_prompt);

}  // namespace ax
