#include "server/chat_prompt.h"

#include "server/api_error.h"
#include "server/prompt_guard.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace ax::server {

using nlohmann::ordered_json;

namespace {

// The messages as the template sees them: role and text content from the validated request, the
// tool-call fields exactly as the client sent them (key order kept: templates print them). An
// assistant message sent back as the API returned it has content null beside its tool_calls; a
// template that cannot render null gets "" instead.
ordered_json template_messages(const ChatRequest& cr, const ordered_json& raw, const ChatTemplateCaps& caps) {
  ordered_json out = ordered_json::array();
  const ordered_json& raw_msgs = raw["messages"];
  for (size_t i = 0; i < cr.messages.size(); ++i) {
    const ChatMessage& m = cr.messages[i];
    const ordered_json& r = raw_msgs[i];
    ordered_json msg = {{"role", m.role}};
    const bool null_content = !r.contains("content") || r["content"].is_null();
    if (null_content && caps.null_content) msg["content"] = nullptr;
    else msg["content"] = m.content;
    for (const char* key : {"tool_calls", "tool_call_id", "name", "reasoning_content"})
      if (r.contains(key) && !r[key].is_null()) msg[key] = r[key];
    out.push_back(std::move(msg));
  }
  return out;
}

}  // namespace

ChatTemplateOptions base_template_options(const ServingContext& ctx) {
  ChatTemplateOptions opt;
  opt.add_generation_prompt = true;
  const Tokenizer& tok = *ctx.tokenizer;
  if (tok.bos_id() >= 0) opt.bos_token = tok.token_piece(tok.bos_id());
  if (tok.eos_id() >= 0) opt.eos_token = tok.token_piece(tok.eos_id());
  return opt;
}

std::vector<int32_t> render_chat_prompt(ServingContext& ctx, const ChatRequest& cr, const ordered_json& raw,
                                        bool with_tools) {
  if (!ctx.chat_template) {
    if (!ctx.chat_template_error.empty())
      bad_param("messages", "cannot be rendered: the model's chat template failed to load ({})", ctx.chat_template_error);
    bad_param("messages", "cannot be rendered: the model has no chat template; use /v1/completions with a prompt");
  }
  ChatTemplateOptions opt = base_template_options(ctx);
  if (with_tools) opt.tools = raw["tools"];
  // vLLM's extension: more template variables, e.g. {"enable_thinking": false} for Qwen3.
  if (raw.contains("chat_template_kwargs") && !raw["chat_template_kwargs"].is_null()) {
    if (!raw["chat_template_kwargs"].is_object()) bad_param("chat_template_kwargs", "must be an object");
    opt.extra_context = raw["chat_template_kwargs"];
  }
  TemplateInputs in;
  in.messages = template_messages(cr, raw, ctx.chat_caps);
  in.options = std::move(opt);
  in.message_field = [](size_t i) { return "messages[" + std::to_string(i) + "]"; };
  return render_guarded(*ctx.chat_template, *ctx.tokenizer, ctx.control_texts, in);
}

}  // namespace ax::server
