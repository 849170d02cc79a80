#include "tokenizer/chat_template.h"

#include <fmt/format.h>

#include "tokenizer/jinja/template.h"
#include "tokenizer/jinja/unicode.h"
#include "util/error.h"

namespace ax {

ChatTemplate::ChatTemplate(std::string_view source) {
  try {
    tpl_ = std::make_unique<jinja::Template>(source);
  } catch (const jinja::TemplateError& e) {
    fail("chat template {}", e.what());
  }
}

ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

const std::string& ChatTemplate::source() const { return tpl_->source(); }

namespace {

// The text HF's continue_final_message looks for: the content, or its last text part.
std::string final_message_text(const nlohmann::ordered_json& messages) {
  const auto& last = messages.back();
  if (!last.is_object() || !last.contains("content")) fail("chat template: continue_final_message needs a final message with content");
  const auto& c = last["content"];
  if (c.is_string()) return c.get<std::string>();
  if (c.is_array()) {
    for (auto it = c.rbegin(); it != c.rend(); ++it)
      if (it->is_object() && it->contains("text") && (*it)["text"].is_string()) return (*it)["text"].get<std::string>();
  }
  fail("chat template: continue_final_message needs the final message's content to hold text");
}

std::string continue_final(std::string rendered, const std::string& final_message) {
  std::string stripped = jinja::utf8::strip(final_message, true, true);
  size_t loc = rendered.rfind(stripped);
  if (loc == std::string::npos)
    fail("chat template: continue_final_message is set but the final message does not appear in the rendered chat");
  std::string lstripped = jinja::utf8::strip(final_message, true, false);
  // HF's rule: keep the message's trailing whitespace only when the template kept it too.
  if (rendered.substr(loc, lstripped.size()) == final_message) {
    rendered.resize(loc + lstripped.size());
  } else {
    rendered.resize(loc + stripped.size());
  }
  return rendered;
}

}  // namespace

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, const ChatTemplateOptions& options) const {
  if (!messages.is_array()) fail("chat template: messages must be a JSON array of message objects");
  for (size_t i = 0; i < messages.size(); ++i)
    if (!messages[i].is_object()) fail("chat template: messages[{}] must be an object", i);
  if (options.continue_final_message && options.add_generation_prompt)
    fail("chat template: continue_final_message and add_generation_prompt cannot both be set");
  if (options.continue_final_message && messages.empty())
    fail("chat template: continue_final_message needs at least one message");
  if (!options.extra_context.is_null() && !options.extra_context.is_object())
    fail("chat template: extra_context must be a JSON object");

  std::vector<std::pair<std::string, jinja::Value>> context;
  try {
    // Same variables, in the same precedence, as HF: extra kwargs may not override these four.
    if (options.extra_context.is_object())
      for (auto it = options.extra_context.begin(); it != options.extra_context.end(); ++it)
        context.emplace_back(it.key(), jinja::from_json(it.value()));
    if (options.bos_token) context.emplace_back("bos_token", jinja::Value::string(*options.bos_token));
    if (options.eos_token) context.emplace_back("eos_token", jinja::Value::string(*options.eos_token));
    context.emplace_back("messages", jinja::from_json(messages));
    context.emplace_back("tools", jinja::from_json(options.tools));
    context.emplace_back("documents", jinja::from_json(options.documents));
    context.emplace_back("add_generation_prompt", jinja::Value::boolean(options.add_generation_prompt));
  } catch (const jinja::RuntimeError& e) {
    fail("chat template: {}", e.what());
  }
  // Later entries win (Scope::set replaces), so the four fixed names above take precedence.
  std::string rendered;
  try {
    jinja::RenderOptions ro;
    ro.limits = options.limits;
    ro.clock = options.clock;
    rendered = tpl_->render(context, ro);
  } catch (const jinja::TemplateError& e) {
    fail("chat template {}", e.what());
  }
  if (options.continue_final_message) rendered = continue_final(std::move(rendered), final_message_text(messages));
  return rendered;
}

std::string render_chatml(const nlohmann::ordered_json& messages, bool add_generation_prompt) {
  if (!messages.is_array()) fail("chat template: messages must be a JSON array of message objects");
  std::string out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      fail("chat template: messages[{}] needs a string \"role\"", i);
    std::string content;
    if (m.contains("content")) {
      const auto& c = m["content"];
      if (c.is_string()) {
        content = c.get<std::string>();
      } else if (c.is_array()) {
        for (const auto& part : c)
          if (part.is_object() && part.value("type", "") == "text" && part.contains("text") && part["text"].is_string())
            content += part["text"].get<std::string>();
      } else if (!c.is_null()) {
        fail("chat template: messages[{}].content must be a string, a list of parts or null", i);
      }
    }
    out += "<|im_start|>" + m["role"].get<std::string>() + "\n" + content + "<|im_end|>\n";
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

}  // namespace ax
