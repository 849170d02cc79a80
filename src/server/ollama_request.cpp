#include "server/ollama_request.h"

#include <cctype>
#include <cmath>
#include <limits>

#include "server/api_error.h"
#include "server/json_fields.h"
#include "server/serving.h"

namespace ax::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

[[noreturn]] void no_images(const std::string& param) {
  bad_param(param, "holds images, which are not supported: this server runs text-only models");
}

void refuse_images(const json& obj, const std::string& param) {
  if (const json* v = field(obj, "images")) {
    get_array(*v, param);
    if (!v->empty()) no_images(param);
  }
}

// Ollama's options, validated under their own names and put into the chat body under OpenAI's.
// Runtime options (threads, GPU layers, batch size, mmap, ...) belong to the server's command
// line, not to a request, and are ignored, as is repeat_last_n (the penalty covers the whole
// sequence); options that would change sampling in a way this server cannot are refused.
void translate_options(const json& opts, ordered_json& chat, OllamaRequest& r) {
  get_object(opts, "options");
  if (const json* v = field(opts, "num_predict")) {
    const int64_t n = get_int(*v, "options.num_predict", -2, int64_t{1} << 30);
    if (n == 0) bad_param("options.num_predict", "must be positive, or -1 (no limit) or -2 (fill the context)");
    if (n > 0) r.num_predict = n;  // -1 and -2: until the model stops or the context is full
  }
  if (const json* v = field(opts, "num_ctx")) r.num_ctx = get_int(*v, "options.num_ctx", 1, int64_t{1} << 30);
  if (const json* v = field(opts, "temperature")) chat["temperature"] = get_number(*v, "options.temperature", 0, 2);
  if (const json* v = field(opts, "top_p")) {
    const double p = get_number(*v, "options.top_p", 0, 1);
    if (p > 0) chat["top_p"] = p;  // Ollama reads 0 as off
  }
  if (const json* v = field(opts, "top_k")) chat["top_k"] = get_int(*v, "options.top_k", 0, std::numeric_limits<int32_t>::max());
  if (const json* v = field(opts, "min_p")) chat["min_p"] = get_number(*v, "options.min_p", 0, 1);
  if (const json* v = field(opts, "seed"))
    chat["seed"] = get_int(*v, "options.seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
  if (const json* v = field(opts, "repeat_penalty")) {
    const double p = get_number(*v, "options.repeat_penalty", 0, 10);
    if (p > 0) chat["repetition_penalty"] = p;  // Ollama reads 0 as off
  }
  if (const json* v = field(opts, "presence_penalty")) chat["presence_penalty"] = get_number(*v, "options.presence_penalty", -2, 2);
  if (const json* v = field(opts, "frequency_penalty"))
    chat["frequency_penalty"] = get_number(*v, "options.frequency_penalty", -2, 2);
  if (const json* v = field(opts, "stop")) {
    std::vector<std::string> stops;
    parse_stop_strings(*v, "options.stop", stops);
    chat["stop"] = stops;
  }
  // Samplers this server does not have: refused unless set to the value that turns them off.
  auto off_unless = [&](const char* key, double off) {
    if (const json* v = field(opts, key)) {
      const std::string p = std::string("options.") + key;
      if (get_number(*v, p, -1e9, 1e9) != off)
        bad_param(p, "is not supported by this server (only {}, which turns it off)", off);
    }
  };
  off_unless("mirostat", 0);
  off_unless("typical_p", 1);
  off_unless("tfs_z", 1);
}

void translate_format(const json& v, ordered_json& chat) {
  if (v.is_string()) {
    const std::string f = v.get<std::string>();
    if (f == "json") chat["response_format"] = {{"type", "json_object"}};
    else if (!f.empty()) bad_param("format", "must be \"json\" or a JSON schema object, got \"{}\"", f);
    return;
  }
  if (!v.is_object()) bad_param("format", "must be \"json\" or a JSON schema object, got {}", type_name(v));
  chat["response_format"] = {{"type", "json_schema"}, {"json_schema", {{"name", "format"}, {"schema", v}}}};
}

ThinkingOptions translate_think(const json& v) {
  if (v.is_boolean()) {
    ThinkingOptions t;
    t.enabled = v.get<bool>();
    return t;
  }
  const std::string level = get_string(v, "think");
  if (level != "low" && level != "medium" && level != "high")
    bad_param("think", "must be true, false, \"low\", \"medium\" or \"high\", got \"{}\"", level);
  ThinkingOptions t = thinking_from_effort(level, "think");
  t.enabled = true;
  return t;
}

// One Ollama chat message as an OpenAI one.
ordered_json translate_message(const json& m, const ordered_json& raw_m, size_t i) {
  const std::string p = fmt::format("messages[{}]", i);
  get_object(m, p);
  const json* role_v = field(m, "role");
  if (!role_v) bad_param(p + ".role", "is required");
  const std::string role = get_string(*role_v, p + ".role");
  if (role != "system" && role != "user" && role != "assistant" && role != "tool")
    bad_param(p + ".role", "must be one of system, user, assistant, tool; got '{}'", role);
  refuse_images(m, p + ".images");
  ordered_json out = {{"role", role}, {"content", ""}};
  if (const json* c = field(m, "content")) out["content"] = get_string(*c, p + ".content");
  if (const json* t = field(m, "thinking")) {
    const std::string thinking = get_string(*t, p + ".thinking");
    if (role == "assistant" && !thinking.empty()) out["reasoning_content"] = thinking;
  }
  if (const json* calls = field(m, "tool_calls")) {
    if (role != "assistant") bad_param(p + ".tool_calls", "is only allowed on assistant messages");
    get_array(*calls, p + ".tool_calls");
    ordered_json openai_calls = ordered_json::array();
    for (size_t k = 0; k < calls->size(); ++k) {
      const std::string call_p = fmt::format("{}.tool_calls[{}]", p, k);
      const std::string cp = call_p + ".function";
      const json* fn = field(get_object((*calls)[k], call_p), "function");
      if (!fn) bad_param(cp, "is required");
      get_object(*fn, cp);
      const json* name = field(*fn, "name");
      if (!name) bad_param(cp + ".name", "is required");
      std::string arguments = "{}";
      if (const json* a = field(*fn, "arguments")) {
        get_object(*a, cp + ".arguments");
        arguments = raw_m["tool_calls"][k]["function"]["arguments"].dump();  // key order as sent
      }
      openai_calls.push_back({{"id", fmt::format("call_{}_{}", i, k)}, {"type", "function"},
                              {"function", {{"name", get_string(*name, cp + ".name")}, {"arguments", arguments}}}});
    }
    if (!openai_calls.empty()) out["tool_calls"] = std::move(openai_calls);
  }
  if (const json* n = field(m, "tool_name")) out["name"] = get_string(*n, p + ".tool_name");
  return out;
}

// What /api/chat and /api/generate share: model, stream, keep_alive, options, format, think.
void parse_common(const json& body, ordered_json& chat, OllamaRequest& r) {
  const json* model = field(body, "model");
  if (!model) throw ApiError(400, "model is required", "invalid_request_error", "model", "invalid_value");
  r.model = get_string(*model, "model");
  if (const json* v = field(body, "stream")) r.stream = get_bool(*v, "stream");
  if (const json* v = field(body, "keep_alive")) r.keep_alive_s = parse_keep_alive(*v);
  if (const json* v = field(body, "options")) translate_options(*v, chat, r);
  if (const json* v = field(body, "format")) translate_format(*v, chat);
  if (const json* v = field(body, "think")) r.thinking = translate_think(*v);
  if (const json* v = field(body, "logprobs"); v && get_bool(*v, "logprobs"))
    bad_param("logprobs", "is not supported on the Ollama routes; use /v1/chat/completions");
}

void finish_chat(OllamaRequest& r, ordered_json chat) {
  r.chat = parse_chat_request(json(chat));
  r.chat.gen.response_format.schema_param = "format";
  r.chat_body = std::move(chat);
}

}  // namespace

std::string ollama_model_name(const std::string& name) {
  constexpr std::string_view kLatest = ":latest";
  if (name.size() > kLatest.size() && name.compare(name.size() - kLatest.size(), kLatest.size(), kLatest) == 0)
    return name.substr(0, name.size() - kLatest.size());
  return name;
}

void check_ollama_model(const ServingContext& ctx, const std::string& name) {
  if (!serves_model(ctx, ollama_model_name(name)))
    throw ApiError(404, fmt::format("model \"{}\" not found", name), "not_found_error", "model", "model_not_found");
}

double parse_keep_alive(const json& v) {
  if (v.is_number()) return get_number(v, "keep_alive", -1e12, 1e12);
  const std::string s = get_string(v, "keep_alive");
  auto bad = [&]() -> double { bad_param("keep_alive", "must be seconds or a duration such as \"5m\" or \"1h30m\", got \"{}\"", s); };
  size_t i = 0;
  double sign = 1;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) sign = s[i++] == '-' ? -1 : 1;
  if (i == s.size()) return bad();
  double total = 0;
  bool any_unit = false;
  while (i < s.size()) {
    const size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == start) return bad();
    double number = 0;
    try {
      number = std::stod(s.substr(start, i - start));
    } catch (const std::exception&) {
      return bad();
    }
    const size_t unit_start = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    const std::string unit = s.substr(unit_start, i - unit_start);
    if (unit.empty()) {
      if (any_unit || i != s.size()) return bad();
      return sign * number;  // a plain number of seconds, as Ollama also takes
    }
    any_unit = true;
    if (unit == "h") total += number * 3600;
    else if (unit == "m") total += number * 60;
    else if (unit == "s") total += number;
    else if (unit == "ms") total += number / 1e3;
    else if (unit == "us") total += number / 1e6;
    else if (unit == "ns") total += number / 1e9;
    else return bad();
  }
  return sign * total;
}

OllamaRequest parse_ollama_chat(const json& body, const ordered_json& raw) {
  OllamaRequest r;
  ordered_json chat = ordered_json::object();
  parse_common(body, chat, r);
  ordered_json messages = ordered_json::array();
  if (const json* msgs = field(body, "messages")) {
    get_array(*msgs, "messages");
    for (size_t i = 0; i < msgs->size(); ++i) messages.push_back(translate_message((*msgs)[i], raw["messages"][i], i));
  }
  if (const json* tools = field(body, "tools")) {
    get_array(*tools, "tools");
    if (!tools->empty()) chat["tools"] = raw["tools"];
  }
  if (messages.empty()) {
    r.load_only = true;
    return r;
  }
  chat["messages"] = std::move(messages);
  finish_chat(r, std::move(chat));
  return r;
}

OllamaRequest parse_ollama_generate(const json& body, const ordered_json&) {
  OllamaRequest r;
  ordered_json chat = ordered_json::object();
  parse_common(body, chat, r);
  refuse_images(body, "images");
  for (const char* key : {"template", "suffix"})
    if (const json* v = field(body, key); v && !get_string(*v, key).empty())
      bad_param(key, "is not supported: prompts are rendered with the model's own chat template (or sent as-is with raw)");
  if (const json* v = field(body, "raw")) r.raw = get_bool(*v, "raw");
  if (const json* v = field(body, "prompt")) r.prompt = get_string(*v, "prompt");
  if (const json* v = field(body, "context")) {
    get_array(*v, "context");
    for (size_t i = 0; i < v->size(); ++i)
      r.context.push_back(static_cast<int32_t>(get_int((*v)[i], fmt::format("context[{}]", i), 0, std::numeric_limits<int32_t>::max())));
  }
  std::string system;
  if (const json* v = field(body, "system")) system = get_string(*v, "system");
  if (r.prompt.empty()) {
    r.load_only = true;
    return r;
  }
  ordered_json messages = ordered_json::array();
  if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
  messages.push_back({{"role", "user"}, {"content", r.prompt}});
  chat["messages"] = std::move(messages);
  finish_chat(r, std::move(chat));
  return r;
}

}  // namespace ax::server
