// The start-up probe of a chat template's capabilities, on a plain-chat template and on a
// tool-aware one.
#include <gtest/gtest.h>

#include "server/template_caps.h"
#include "tokenizer/chat_template.h"

namespace ax::server {
namespace {

TEST(TemplateCaps, PlainChatTemplateShowsNoTools) {
  // ax-code-15m's layout: concatenates content, knows nothing of tools.
  ChatTemplate tpl(
      "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
      "'<|im_end|>' + '\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}");
  ChatTemplateCaps caps = probe_chat_template(tpl, ChatTemplateOptions{});
  EXPECT_FALSE(caps.null_content);
  EXPECT_FALSE(caps.tools);
  EXPECT_FALSE(caps.tool_calls);
  EXPECT_TRUE(caps.tool_role);
}

TEST(TemplateCaps, ToolAwareTemplateShowsEverything) {
  // The shape of Qwen/Hermes templates: tools in a system block, calls as <tool_call> JSON.
  ChatTemplate tpl(R"({%- if tools %}<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools>{% endif %}
{%- for m in messages %}<|im_start|>{{ m.role }}
{% if m.content %}{{ m.content }}{% endif %}
{%- if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>{"name": "{{ c.function.name }}", "arguments": {{ c.function.arguments }}}</tool_call>{% endfor %}{% endif %}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %})");
  ChatTemplateCaps caps = probe_chat_template(tpl, ChatTemplateOptions{});
  EXPECT_TRUE(caps.null_content);
  EXPECT_TRUE(caps.tools);
  EXPECT_TRUE(caps.tool_calls);
  EXPECT_TRUE(caps.tool_role);
}

}  // namespace
}  // namespace ax::server
