#include "server/anthropic_request.h"

#include "server/api_error.h"
#include "server/json_fields.h"

namespace ax::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// Text of a string or of an array of {"type": "text", "text"} blocks (system, tool_result content).
std::string text_of(const json& v, const std::string& param) {
  if (v.is_string()) return v.get<std::string>();
  std::string text;
  for_each_typed_part(v, param, [&](const std::string& type, const json& block, const std::string& p) {
    if (type != "text") bad_param(p + ".type", "'{}' is not supported here; only 'text' blocks are", type);
    if (!text.empty()) text += "\n";
    text += required_string(block, "text", p);
  });
  return text;
}

[[noreturn]] void unsupported_block(const std::string& param, const std::string& type) {
  if (type == "image" || type == "document")
    bad_param(param, "'{}' is not supported: this server runs text-only models", type);
  bad_param(param, "'{}' is not supported here", type);
}

// One Anthropic message as OpenAI chat messages (a user turn with tool results becomes several).
void translate_message(const json& m, const ordered_json& raw_m, size_t i, bool last, ordered_json& out,
                       bool& prefill) {
  const std::string p = fmt::format("messages[{}]", i);
  get_object(m, p);
  const json* role_v = field(m, "role");
  if (!role_v) bad_param(p + ".role", "is required");
  const std::string role = get_string(*role_v, p + ".role");
  if (role != "user" && role != "assistant") bad_param(p + ".role", "must be 'user' or 'assistant', got '{}'", role);
  const json* content = field(m, "content");
  if (!content) bad_param(p + ".content", "is required");
  if (content->is_string()) {
    out.push_back({{"role", role}, {"content", content->get<std::string>()}});
    prefill = last && role == "assistant";
    return;
  }
  get_array(*content, p + ".content");
  std::string text, thinking;
  ordered_json tool_calls = ordered_json::array();
  for (size_t j = 0; j < content->size(); ++j) {
    const std::string bp = fmt::format("{}.content[{}]", p, j);
    const json& b = get_object((*content)[j], bp);
    const json* type_v = field(b, "type");
    if (!type_v) bad_param(bp + ".type", "is required");
    const std::string type = get_string(*type_v, bp + ".type");
    auto need = [&](const char* key) -> const json& {
      const json* v = field(b, key);
      if (!v) bad_param(bp + "." + key, "is required");
      return *v;
    };
    if (type == "text") {
      text += get_string(need("text"), bp + ".text");
    } else if (type == "thinking" && role == "assistant") {
      thinking += get_string(need("thinking"), bp + ".thinking");
    } else if (type == "redacted_thinking" && role == "assistant") {
      // Encrypted by Anthropic: nothing a local model can read.
    } else if (type == "tool_use" && role == "assistant") {
      const std::string id = get_string(need("id"), bp + ".id");
      const std::string name = get_string(need("name"), bp + ".name");
      get_object(need("input"), bp + ".input");
      const ordered_json& input = raw_m["content"][j]["input"];
      tool_calls.push_back({{"id", id}, {"type", "function"}, {"function", {{"name", name}, {"arguments", input.dump()}}}});
    } else if (type == "tool_result" && role == "user") {
      const std::string id = get_string(need("tool_use_id"), bp + ".tool_use_id");
      std::string result;
      if (const json* c = field(b, "content")) result = text_of(*c, bp + ".content");
      if (const json* e = field(b, "is_error"); e && get_bool(*e, bp + ".is_error")) result = "Error: " + result;
      // Tool results answer the calls of the turn before, so they come before this turn's text.
      out.push_back({{"role", "tool"}, {"tool_call_id", id}, {"content", result}});
    } else {
      unsupported_block(bp + ".type", type);
    }
  }
  if (role == "user") {
    if (!text.empty() || out.empty() || out.back()["role"] != "tool") out.push_back({{"role", "user"}, {"content", text}});
    return;
  }
  ordered_json msg = {{"role", "assistant"}, {"content", text}};
  if (!thinking.empty()) msg["reasoning_content"] = thinking;
  if (!tool_calls.empty()) msg["tool_calls"] = tool_calls;
  prefill = last && tool_calls.empty();
  out.push_back(std::move(msg));
}

ordered_json translate_tools(const json& tools, const ordered_json& raw_tools) {
  get_array(tools, "tools");
  ordered_json out = ordered_json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const std::string p = fmt::format("tools[{}]", i);
    if (const json* type = field(get_object(tools[i], p), "type")) {
      const std::string ty = get_string(*type, p + ".type");
      if (ty != "custom") bad_param(p + ".type", "'{}' is a server tool, which this server does not run; only client tools are supported", ty);
    }
    out.push_back(function_tool(tools[i], raw_tools[i], "input_schema", /*schema_required=*/true, p));
  }
  return out;
}

ordered_json translate_tool_choice(const json& v) {
  get_object(v, "tool_choice");
  const json* type = field(v, "type");
  if (!type) bad_param("tool_choice.type", "is required");
  const std::string t = get_string(*type, "tool_choice.type");
  if (t == "auto") return "auto";
  if (t == "none") return "none";
  if (t == "any") return "required";
  if (t == "tool") {
    const json* name = field(v, "name");
    if (!name) bad_param("tool_choice.name", "is required when tool_choice.type is 'tool'");
    return {{"type", "function"}, {"function", {{"name", get_string(*name, "tool_choice.name")}}}};
  }
  bad_param("tool_choice.type", "must be 'auto', 'any', 'tool' or 'none', got '{}'", t);
}

}  // namespace

std::string anthropic_tool_id(const std::string& call_id) {
  return call_id.rfind("call_", 0) == 0 ? "toolu_" + call_id.substr(5) : call_id;
}

MessagesRequest parse_messages_request(const json& body, const ordered_json& raw, bool for_count) {
  MessagesRequest r;
  ordered_json chat = ordered_json::object();
  if (const json* v = field(body, "model")) chat["model"] = get_string(*v, "model");
  ordered_json messages = ordered_json::array();
  if (const json* v = field(body, "system")) {
    const std::string system = text_of(*v, "system");
    if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
  }
  const json* msgs = field(body, "messages");
  if (!msgs) bad_param("messages", "is required");
  get_array(*msgs, "messages");
  if (msgs->empty()) bad_param("messages", "must hold at least one message");
  bool prefill = false;
  for (size_t i = 0; i < msgs->size(); ++i)
    translate_message((*msgs)[i], raw["messages"][i], i, i + 1 == msgs->size(), messages, prefill);
  chat["messages"] = std::move(messages);
  if (prefill) chat["continue_final_message"] = true;
  if (const json* v = field(body, "tools")) chat["tools"] = translate_tools(*v, raw["tools"]);
  if (const json* v = field(body, "tool_choice")) chat["tool_choice"] = translate_tool_choice(*v);
  if (const json* v = field(body, "max_tokens")) {
    chat["max_tokens"] = get_int(*v, "max_tokens", 1, int64_t{1} << 30);
  } else if (!for_count) {
    bad_param("max_tokens", "is required");
  }
  for (const char* key : {"temperature", "top_p", "top_k"})
    if (const json* v = field(body, key)) chat[key] = *v;
  if (const json* v = field(body, "temperature")) get_number(*v, "temperature", 0, 1);
  if (const json* v = field(body, "stop_sequences")) {
    std::vector<std::string> stops;
    get_array(*v, "stop_sequences");
    parse_stop_strings(*v, "stop_sequences", stops);
    chat["stop"] = stops;
  }
  if (const json* v = field(body, "stream")) r.stream = get_bool(*v, "stream");
  if (const json* v = field(body, "thinking")) {
    get_object(*v, "thinking");
    const json* type = field(*v, "type");
    if (!type) bad_param("thinking.type", "is required");
    const std::string t = get_string(*type, "thinking.type");
    if (t == "enabled") {
      r.thinking.enabled = true;
      const json* budget = field(*v, "budget_tokens");
      if (!budget) bad_param("thinking.budget_tokens", "is required when thinking is enabled");
      r.thinking.budget_tokens = get_int(*budget, "thinking.budget_tokens", 1, int64_t{1} << 30);
      r.thinking.budget_param = "thinking.budget_tokens";
      if (chat.contains("max_tokens") && *r.thinking.budget_tokens >= chat["max_tokens"].get<int64_t>())
        bad_param("thinking.budget_tokens", "must be less than max_tokens ({}), which counts the thought too",
                  chat["max_tokens"].get<int64_t>());
    } else if (t == "disabled") {
      r.thinking.enabled = false;
    } else {
      bad_param("thinking.type", "must be 'enabled' or 'disabled', got '{}'", t);
    }
  }
  r.chat = parse_chat_request(json(chat));
  r.chat_body = std::move(chat);
  return r;
}

}  // namespace ax::server
