#include "server/chat_prompt.h"

#include "server/api_error.h"
#include "tokenizer/chat_prompt.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace ax::server {

using nlohmann::ordered_json;

namespace {

// The messages as the template sees them: role and text content from the validated request, the
// tool-call fields exactly as the client sent them (key order kept: templates print them).
ordered_json template_messages(const ChatRequest& cr, const ordered_json& raw) {
  ordered_json out = ordered_json::array();
  const ordered_json& raw_msgs = raw["messages"];
  for (size_t i = 0; i < cr.messages.size(); ++i) {
    const ChatMessage& m = cr.messages[i];
    const ordered_json& r = raw_msgs[i];
    ordered_json msg = {{"role", m.role}};
    if (r.contains("content") && r["content"].is_null()) msg["content"] = nullptr;
    else msg["content"] = m.content;
    for (const char* key : {"tool_calls", "tool_call_id", "name", "reasoning_content"})
      if (r.contains(key) && !r[key].is_null()) msg[key] = r[key];
    out.push_back(std::move(msg));
  }
  return out;
}

}  // namespace

std::string render_chat_text(ServingContext& ctx, const ChatRequest& cr, const ordered_json& raw, bool with_tools,
                             bool add_generation_prompt) {
  if (!ctx.chat_template) {
    if (!ctx.chat_template_error.empty())
      bad_param("messages", "cannot be rendered: the model's chat template failed to load ({})", ctx.chat_template_error);
    bad_param("messages", "cannot be rendered: the model has no chat template; use /v1/completions with a prompt");
  }
  ChatTemplateOptions opt = chat_template_options(*ctx.tokenizer);
  opt.add_generation_prompt = add_generation_prompt;
  if (with_tools) opt.tools = raw["tools"];
  // vLLM's extension: more template variables, e.g. {"enable_thinking": false} for Qwen3.
  if (raw.contains("chat_template_kwargs") && !raw["chat_template_kwargs"].is_null()) {
    if (!raw["chat_template_kwargs"].is_object()) bad_param("chat_template_kwargs", "must be an object");
    opt.extra_context = raw["chat_template_kwargs"];
  }
  try {
    return ctx.chat_template->render(template_messages(cr, raw), opt);
  } catch (const std::exception& e) {
    bad_param("messages", "cannot be rendered with the model's chat template: {}", e.what());
  }
}

std::vector<int32_t> render_chat_prompt(ServingContext& ctx, const ChatRequest& cr, const ordered_json& raw,
                                        bool with_tools) {
  const std::string prompt = render_chat_text(ctx, cr, raw, with_tools);
  // The template writes the special tokens itself (BOS included where the model wants one).
  return ctx.tokenizer->encode(prompt, /*add_special=*/false, /*parse_special=*/true);
}

}  // namespace ax::server
