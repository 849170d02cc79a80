#include "server/responses_request.h"

#include "server/api_error.h"
#include "server/json_fields.h"

namespace ax::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// The text of a message's content: a string or an array of text parts.
std::string content_text(const json& v, const std::string& param) {
  if (v.is_string()) return v.get<std::string>();
  std::string text;
  for_each_typed_part(v, param, [&](const std::string& t, const json& part, const std::string& p) {
    if (t == "input_text" || t == "output_text" || t == "text" || t == "summary_text" || t == "reasoning_text") {
      text += required_string(part, "text", p);
    } else if (t == "refusal") {
      if (const json* r = field(part, "refusal")) text += get_string(*r, p + ".refusal");
    } else if (t == "input_image" || t == "input_file" || t == "input_audio") {
      bad_param(p + ".type", "'{}' is not supported: this server runs text-only models", t);
    } else {
      bad_param(p + ".type", "'{}' is not supported", t);
    }
  });
  return text;
}

// Input items as chat messages, appended to out.
class InputTranslator {
 public:
  explicit InputTranslator(ordered_json& out) : out_(out) {}

  void item(const json& it, const std::string& p) {
    get_object(it, p);
    const json* type_v = field(it, "type");
    const std::string type = type_v ? get_string(*type_v, p + ".type") : "message";
    auto need = [&](const char* key) -> const json& {
      const json* v = field(it, key);
      if (!v) bad_param(p + "." + key, "is required");
      return *v;
    };
    if (type == "message") {
      const std::string role = get_string(need("role"), p + ".role");
      if (role != "user" && role != "assistant" && role != "system" && role != "developer")
        bad_param(p + ".role", "must be one of user, assistant, system, developer; got '{}'", role);
      ordered_json msg = {{"role", role}, {"content", content_text(need("content"), p + ".content")}};
      if (role == "assistant") take_reasoning(msg);
      out_.push_back(std::move(msg));
      last_closed_ = role != "assistant";  // an assistant's function calls may follow its text
      return;
    } else if (type == "function_call") {
      ordered_json call = {{"id", get_string(need("call_id"), p + ".call_id")}, {"type", "function"},
                           {"function", {{"name", get_string(need("name"), p + ".name")},
                                         {"arguments", get_string(need("arguments"), p + ".arguments")}}}};
      // Calls of one turn follow its message (or each other): they join that assistant message.
      if (out_.empty() || out_.back()["role"] != "assistant" || last_closed_) {
        ordered_json msg = {{"role", "assistant"}, {"content", ""}};
        take_reasoning(msg);
        out_.push_back(std::move(msg));
      }
      ordered_json& msg = out_.back();
      if (!msg.contains("tool_calls")) msg["tool_calls"] = ordered_json::array();
      msg["tool_calls"].push_back(std::move(call));
      last_closed_ = false;
      return;
    } else if (type == "function_call_output") {
      const json& output = need("output");
      out_.push_back({{"role", "tool"}, {"tool_call_id", get_string(need("call_id"), p + ".call_id")},
                      {"content", content_text(output, p + ".output")}});
    } else if (type == "reasoning") {
      std::string text;
      if (const json* c = field(it, "content")) text = content_text(*c, p + ".content");
      if (text.empty())
        if (const json* s = field(it, "summary")) text = content_text(*s, p + ".summary");
      reasoning_ += text;
    } else {
      bad_param(p + ".type", "'{}' is not supported; input items may be messages, function_call, "
                "function_call_output and reasoning", type);
    }
    last_closed_ = true;
  }

 private:
  void take_reasoning(ordered_json& msg) {
    if (!reasoning_.empty()) msg["reasoning_content"] = reasoning_;
    reasoning_.clear();
  }
  ordered_json& out_;
  std::string reasoning_;     // a reasoning item waiting for its assistant message
  bool last_closed_ = true;   // the last message takes no more function calls
};

ordered_json translate_tools(const json& tools, const ordered_json& raw_tools) {
  get_array(tools, "tools");
  ordered_json out = ordered_json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const std::string p = fmt::format("tools[{}]", i);
    const std::string ty = required_string(get_object(tools[i], p), "type", p);
    if (ty != "function") bad_param(p + ".type", "'{}' is a hosted tool, which this server does not run; only 'function' tools are supported", ty);
    out.push_back(function_tool(tools[i], raw_tools[i], "parameters", /*schema_required=*/false, p));
  }
  return out;
}

ordered_json translate_tool_choice(const json& v) {
  if (v.is_string()) return v.get<std::string>();  // auto, none, required: checked by the chat parser
  get_object(v, "tool_choice");
  const json* type = field(v, "type");
  if (!type || get_string(*type, "tool_choice.type") != "function")
    bad_param("tool_choice.type", "must be 'function' (or tool_choice a string: 'auto', 'none', 'required')");
  const json* name = field(v, "name");
  if (!name) bad_param("tool_choice.name", "is required");
  return {{"type", "function"}, {"function", {{"name", get_string(*name, "tool_choice.name")}}}};
}

ordered_json translate_format(const json& text) {
  get_object(text, "text");
  const json* format = field(text, "format");
  if (!format) return nullptr;
  get_object(*format, "text.format");
  const json* type = field(*format, "type");
  if (!type) bad_param("text.format.type", "is required");
  const std::string t = get_string(*type, "text.format.type");
  if (t == "text" || t == "json_object") return {{"type", t}};
  if (t != "json_schema") bad_param("text.format.type", "must be 'text', 'json_object' or 'json_schema', got '{}'", t);
  const json* schema = field(*format, "schema");
  if (!schema) bad_param("text.format.schema", "is required");
  if (!schema->is_object() && !schema->is_boolean())
    bad_param("text.format.schema", "must be a JSON schema object, got {}", type_name(*schema));
  ordered_json js = {{"schema", *schema}};
  if (const json* name = field(*format, "name")) js["name"] = get_string(*name, "text.format.name");
  return {{"type", "json_schema"}, {"json_schema", js}};
}

}  // namespace

std::string previous_response_id_of(const json& body) {
  const json* v = field(body, "previous_response_id");
  return v ? get_string(*v, "previous_response_id") : std::string();
}

ResponsesRequest parse_responses_request(const json& body, const ordered_json& raw, const ordered_json& history) {
  ResponsesRequest r;
  r.previous_response_id = previous_response_id_of(body);
  ordered_json chat = ordered_json::object();
  json echo = json::object();
  if (const json* v = field(body, "model")) chat["model"] = get_string(*v, "model");
  r.conversation = history;
  const json* input = field(body, "input");
  if (!input) bad_param("input", "is required");
  if (input->is_string()) {
    r.conversation.push_back({{"role", "user"}, {"content", input->get<std::string>()}});
  } else if (input->is_array()) {
    InputTranslator tr(r.conversation);
    for (size_t i = 0; i < input->size(); ++i) tr.item((*input)[i], fmt::format("input[{}]", i));
  } else {
    bad_param("input", "must be a string or an array of input items, got {}", type_name(*input));
  }
  if (r.conversation.empty()) bad_param("input", "must hold at least one item");
  ordered_json messages = ordered_json::array();
  echo["instructions"] = nullptr;
  if (const json* v = field(body, "instructions")) {
    const std::string instructions = get_string(*v, "instructions");
    echo["instructions"] = instructions;
    if (!instructions.empty()) messages.push_back({{"role", "system"}, {"content", instructions}});
  }
  for (const auto& m : r.conversation) messages.push_back(m);
  chat["messages"] = std::move(messages);
  echo["tools"] = json::array();
  if (const json* v = field(body, "tools")) {
    chat["tools"] = translate_tools(*v, raw["tools"]);
    echo["tools"] = *v;
  }
  echo["tool_choice"] = "auto";
  if (const json* v = field(body, "tool_choice")) {
    chat["tool_choice"] = translate_tool_choice(*v);
    echo["tool_choice"] = *v;
  }
  echo["text"] = {{"format", {{"type", "text"}}}};
  if (const json* v = field(body, "text")) {
    ordered_json format = translate_format(*v);
    if (!format.is_null()) chat["response_format"] = format;
    if (field(*v, "format")) echo["text"] = {{"format", (*v)["format"]}};
  }
  echo["max_output_tokens"] = nullptr;
  if (const json* v = field(body, "max_output_tokens")) {
    chat["max_tokens"] = get_int(*v, "max_output_tokens", 1, int64_t{1} << 30);
    echo["max_output_tokens"] = chat["max_tokens"];
  }
  for (const char* key : {"temperature", "top_p"}) {
    echo[key] = 1.0;
    if (const json* v = field(body, key)) {
      get_number(*v, key, 0, std::string(key) == "temperature" ? 2 : 1);
      chat[key] = *v;
      echo[key] = *v;
    }
  }
  echo["reasoning"] = {{"effort", nullptr}, {"summary", nullptr}};
  if (const json* v = field(body, "reasoning")) {
    get_object(*v, "reasoning");
    if (const json* e = field(*v, "effort")) {
      r.thinking = thinking_from_effort(get_string(*e, "reasoning.effort"), "reasoning.effort");
      echo["reasoning"]["effort"] = *e;
    }
  }
  if (const json* v = field(body, "stream")) r.stream = get_bool(*v, "stream");
  if (const json* v = field(body, "store")) r.store = get_bool(*v, "store");
  if (const json* v = field(body, "background"); v && get_bool(*v, "background"))
    bad_param("background", "is not supported: responses run while the request is open");
  echo["metadata"] = json::object();
  if (const json* v = field(body, "metadata")) echo["metadata"] = get_object(*v, "metadata");
  echo["parallel_tool_calls"] = true;
  if (const json* v = field(body, "parallel_tool_calls")) echo["parallel_tool_calls"] = get_bool(*v, "parallel_tool_calls");
  if (const json* v = field(body, "user")) echo["user"] = get_string(*v, "user");
  r.chat = parse_chat_request(json(chat));
  r.chat_body = std::move(chat);
  r.echo = std::move(echo);
  return r;
}

}  // namespace ax::server
