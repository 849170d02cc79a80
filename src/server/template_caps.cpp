#include "server/template_caps.h"

#include "tokenizer/chat_template.h"

namespace ax::server {
namespace {

using nlohmann::ordered_json;

// Names no real conversation contains, so finding one in the output means the template printed it.
constexpr const char* kProbeTool = "ax_probe_tool_fn";
constexpr const char* kProbeCall = "ax_probe_call_fn";
constexpr const char* kProbeResult = "ax_probe_tool_result";

ordered_json user(const char* text) { return {{"role", "user"}, {"content", text}}; }

ordered_json assistant_call(ordered_json content) {
  ordered_json call = {{"id", "call_probe"}, {"type", "function"},
                       {"function", {{"name", kProbeCall}, {"arguments", "{\"x\": 1}"}}}};
  return {{"role", "assistant"}, {"content", std::move(content)}, {"tool_calls", ordered_json::array({call})}};
}

// The render, or "" when the template refuses these messages.
std::string try_render(const ChatTemplate& tpl, const ordered_json& messages, ChatTemplateOptions opt) {
  try {
    return tpl.render(messages, opt);
  } catch (const std::exception&) {
    return {};
  }
}

bool shows(const std::string& text, const char* probe) { return text.find(probe) != std::string::npos; }

}  // namespace

ChatTemplateCaps probe_chat_template(const ChatTemplate& tpl, const ChatTemplateOptions& base) {
  ChatTemplateCaps caps;
  ChatTemplateOptions opt = base;
  opt.add_generation_prompt = true;
  caps.null_content = !try_render(tpl, ordered_json::array({user("q"), assistant_call(nullptr)}), opt).empty();
  caps.tool_calls = shows(try_render(tpl, ordered_json::array({user("q"), assistant_call("")}), opt), kProbeCall);
  caps.tool_role = shows(try_render(tpl,
                                    ordered_json::array({user("q"), assistant_call(""),
                                                         {{"role", "tool"}, {"tool_call_id", "call_probe"},
                                                          {"content", kProbeResult}}}),
                                    opt),
                         kProbeResult);
  ChatTemplateOptions with_tools = opt;
  with_tools.tools = ordered_json::array(
      {{{"type", "function"},
        {"function", {{"name", kProbeTool}, {"description", "probe"}, {"parameters", {{"type", "object"}, {"properties", ordered_json::object()}}}}}}});
  caps.tools = shows(try_render(tpl, ordered_json::array({user("q")}), with_tools), kProbeTool);
  return caps;
}

}  // namespace ax::server
