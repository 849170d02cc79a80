#pragma once
// What a model's chat template does with the fields of OpenAI messages, found once at start-up by
// rendering small probe conversations (the approach of llama.cpp's template "capabilities"): a
// template written for plain chat may concatenate content (so content: null fails), ignore
// `tools`, or never print an assistant's tool_calls. chat_prompt.cpp fills those gaps.
namespace ax {
class ChatTemplate;
struct ChatTemplateOptions;
}  // namespace ax

namespace ax::server {

struct ChatTemplateCaps {
  bool null_content = true;  // renders an assistant message whose content is null
  bool tools = true;         // shows the `tools` it is given
  bool tool_calls = true;    // shows an assistant message's tool_calls
  bool tool_role = true;     // shows the content of role "tool" messages
};

// base: the options every render uses (bos/eos tokens).
ChatTemplateCaps probe_chat_template(const ChatTemplate& tpl, const ChatTemplateOptions& base);

}  // namespace ax::server
