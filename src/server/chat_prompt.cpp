#include "server/chat_prompt.h"

#include "server/api_error.h"
#include "server/prompt_guard.h"
#include "server/tool_call_parser.h"
#include "tokenizer/chat_prompt.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace ax::server {

using nlohmann::ordered_json;

namespace {

// Tools for a template that does not show them: described in the system message, with the call
// format ToolCallParser reads back (the way llama.cpp fills in for such templates).
std::string tools_system_text(const ordered_json& tools) {
  std::string text =
      "# Tools\n\nYou can call the functions listed below, each given as JSON with its name, what it does "
      "and a JSON Schema of its arguments.\n<tools>\n";
  for (const auto& t : tools) text += t.dump() + "\n";
  text += "</tools>\n\nTo call a function, answer with one block per call:\n" + std::string(ToolCallParser::kOpen) +
          "\n{\"name\": <function name>, \"arguments\": <the arguments as a JSON object>}\n" +
          std::string(ToolCallParser::kClose);
  return text;
}

// An assistant's tool_calls as the text the model would have written, for a template that does
// not show them.
std::string tool_calls_text(const ordered_json& calls) {
  std::string text;
  for (const auto& c : calls) {
    if (!c.is_object() || !c.contains("function") || !c["function"].is_object()) continue;
    const ordered_json& fn = c["function"];
    ordered_json call = {{"name", fn.value("name", ordered_json(""))}};
    const ordered_json args = fn.value("arguments", ordered_json::object());
    // OpenAI sends arguments as a JSON string; shown as the object it holds when it parses.
    ordered_json parsed = args.is_string() ? ordered_json::parse(args.get<std::string>(), nullptr, false) : args;
    call["arguments"] = parsed.is_discarded() ? args : parsed;
    if (!text.empty()) text += "\n";
    text += std::string(ToolCallParser::kOpen) + "\n" + call.dump() + "\n" + std::string(ToolCallParser::kClose);
  }
  return text;
}

}  // namespace

TemplateMessages template_messages(const ChatRequest& cr, const ordered_json& raw, const ChatTemplateCaps& caps,
                                   bool with_tools) {
  TemplateMessages out;
  const ordered_json& raw_msgs = raw["messages"];
  for (size_t i = 0; i < cr.messages.size(); ++i) {
    const ChatMessage& m = cr.messages[i];
    const ordered_json& r = raw_msgs[i];
    ordered_json msg = {{"role", m.role}};
    // An assistant message sent back as the API returned it has content null beside its
    // tool_calls; a template that cannot render null gets "".
    const bool null_content = !r.contains("content") || r["content"].is_null();
    if (null_content && caps.null_content) msg["content"] = nullptr;
    else msg["content"] = m.content;
    for (const char* key : {"tool_calls", "tool_call_id", "name", "reasoning_content"})
      if (r.contains(key) && !r[key].is_null()) msg[key] = r[key];
    if (msg.contains("tool_calls") && !caps.tool_calls) {
      std::string calls = tool_calls_text(msg["tool_calls"]);
      msg.erase("tool_calls");
      msg["content"] = m.content + (m.content.empty() || calls.empty() ? "" : "\n") + calls;
    }
    if (m.role == "tool" && !caps.tool_role) {
      msg = {{"role", "user"}, {"content", "<tool_response>\n" + m.content + "\n</tool_response>"}};
    }
    out.messages.push_back(std::move(msg));
  }
  out.field = [](size_t i) { return "messages[" + std::to_string(i) + "]"; };
  if (with_tools && !caps.tools) {
    const std::string text = tools_system_text(raw["tools"]);
    ordered_json& first = out.messages[0];
    if (first["role"] == "system" || first["role"] == "developer") {
      const std::string content = first["content"].is_string() ? first["content"].get<std::string>() : "";
      first["content"] = content + (content.empty() ? "" : "\n\n") + text;
    } else {
      out.messages.insert(out.messages.begin(), ordered_json{{"role", "system"}, {"content", text}});
      out.field = [](size_t i) { return i == 0 ? std::string("tools") : "messages[" + std::to_string(i - 1) + "]"; };
    }
  }
  return out;
}

namespace {

// What the template renders for a chat request: the messages with what it cannot show filled in,
// the tools where it shows them, the client's template variables.
TemplateInputs chat_inputs(ServingContext& ctx, const ChatRequest& cr, const ordered_json& raw, bool with_tools,
                           bool add_generation_prompt) {
  const Tokenizer& tok = ctx.text_tokenizer();
  if (!ctx.chat_template) {
    if (!ctx.chat_template_error.empty())
      bad_param("messages", "cannot be rendered: the model's chat template failed to load ({})", ctx.chat_template_error);
    bad_param("messages", "cannot be rendered: the model has no chat template; use /v1/completions with a prompt");
  }
  ChatTemplateOptions opt = chat_template_options(tok);
  opt.add_generation_prompt = add_generation_prompt;
  // vLLM's extension: more template variables, e.g. {"enable_thinking": false} for Qwen3.
  if (raw.contains("chat_template_kwargs") && !raw["chat_template_kwargs"].is_null()) {
    if (!raw["chat_template_kwargs"].is_object()) bad_param("chat_template_kwargs", "must be an object");
    opt.extra_context = raw["chat_template_kwargs"];
  }
  // vLLM's extension, and Anthropic's prefill: the reply continues the final assistant message.
  if (raw.contains("continue_final_message") && !raw["continue_final_message"].is_null()) {
    if (!raw["continue_final_message"].is_boolean()) bad_param("continue_final_message", "must be a boolean");
    if (raw["continue_final_message"].get<bool>()) {
      if (cr.messages.back().role != "assistant")
        bad_param("continue_final_message", "needs the last message to be the assistant's");
      opt.continue_final_message = true;
      opt.add_generation_prompt = false;
    }
  }
  TemplateMessages msgs = template_messages(cr, raw, ctx.chat_caps, with_tools);
  TemplateInputs in;
  in.messages = std::move(msgs.messages);
  in.message_field = std::move(msgs.field);
  if (with_tools && ctx.chat_caps.tools) opt.tools = raw["tools"];
  in.options = std::move(opt);
  return in;
}

}  // namespace

std::vector<int32_t> render_chat_prompt(ServingContext& ctx, const ChatRequest& cr, const ordered_json& raw,
                                        bool with_tools) {
  const TemplateInputs in = chat_inputs(ctx, cr, raw, with_tools, /*add_generation_prompt=*/true);
  return render_guarded(*ctx.chat_template, ctx.text_tokenizer(), ctx.control_texts, in);
}

std::string render_chat_text(ServingContext& ctx, const ChatRequest& cr, const ordered_json& raw, bool with_tools,
                             bool add_generation_prompt) {
  const TemplateInputs in = chat_inputs(ctx, cr, raw, with_tools, add_generation_prompt);
  return render_template(*ctx.chat_template, in.messages, in.options);
}

}  // namespace ax::server
