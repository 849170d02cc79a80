// Parsing and validation of request bodies. Ranges follow OpenAI's documented limits; extensions
// (top_k, min_p, repetition_penalty, ignore_eos, speculation) follow vLLM/llama.cpp naming.
#include "server/openai_request.h"

#include <cmath>
#include <limits>

#include "engine/spec_params.h"
#include "server/api_error.h"
#include "server/json_fields.h"

namespace ax::server {
namespace {

using nlohmann::json;

std::vector<int32_t> get_token_array(const json& v, const std::string& param) {
  if (!v.is_array()) bad_param(param, "must be an array of token ids, got {}", type_name(v));
  std::vector<int32_t> ids;
  ids.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    ids.push_back(static_cast<int32_t>(
        get_int(v[i], fmt::format("{}[{}]", param, i), 0, std::numeric_limits<int32_t>::max())));
  return ids;
}

void parse_logit_bias(const json& v, SamplingOptions& s) {
  if (!v.is_object()) bad_param("logit_bias", "must be an object mapping token ids to biases, got {}", type_name(v));
  for (auto& [key, bias] : v.items()) {
    int64_t id = -1;
    try {
      size_t used = 0;
      id = std::stoll(key, &used);
      if (used != key.size()) id = -1;
    } catch (const std::exception&) {
      id = -1;
    }
    if (id < 0 || id > std::numeric_limits<int32_t>::max())
      bad_param("logit_bias", "keys must be token ids, got '{}'", key);
    s.logit_bias.emplace_back(static_cast<int32_t>(id),
                              static_cast<float>(get_number(bias, "logit_bias", -100, 100)));
  }
}

}  // namespace

// The sampling fields, shared by the OpenAI routes (top level) and /v1/generate ("sampling").
void parse_sampling(const json& obj, SamplingOptions& s) {
  if (auto* v = field(obj, "temperature")) s.temperature = static_cast<float>(get_number(*v, "temperature", 0, 2));
  if (auto* v = field(obj, "top_p")) {
    s.top_p = static_cast<float>(get_number(*v, "top_p", 0, 1));
    if (s.top_p <= 0) bad_param("top_p", "must be in (0, 1], got {}", s.top_p);
  }
  if (auto* v = field(obj, "top_k")) {
    int64_t k = get_int(*v, "top_k", -1, std::numeric_limits<int32_t>::max());
    s.top_k = k < 0 ? 0 : static_cast<int>(k);  // -1 means off, as in vLLM
  }
  if (auto* v = field(obj, "min_p")) s.min_p = static_cast<float>(get_number(*v, "min_p", 0, 1));
  if (auto* v = field(obj, "presence_penalty")) s.presence_penalty = static_cast<float>(get_number(*v, "presence_penalty", -2, 2));
  if (auto* v = field(obj, "frequency_penalty")) s.frequency_penalty = static_cast<float>(get_number(*v, "frequency_penalty", -2, 2));
  if (auto* v = field(obj, "repetition_penalty")) {
    s.repetition_penalty = static_cast<float>(get_number(*v, "repetition_penalty", 0, 10));
    if (s.repetition_penalty <= 0) bad_param("repetition_penalty", "must be > 0, got {}", s.repetition_penalty);
  }
  if (auto* v = field(obj, "logit_bias")) parse_logit_bias(*v, s);
  if (auto* v = field(obj, "seed")) {
    int64_t seed = get_int(*v, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
    s.seed = static_cast<uint64_t>(seed);
  }
}

void parse_stop_strings(const json& v, const std::string& param, std::vector<std::string>& stop) {
  constexpr size_t kMaxStops = 16;
  if (v.is_string()) {
    if (!v.get<std::string>().empty()) stop.push_back(v.get<std::string>());
    return;
  }
  if (!v.is_array()) bad_param(param, "must be a string or an array of strings, got {}", type_name(v));
  if (v.size() > kMaxStops) bad_param(param, "may hold at most {} strings, got {}", kMaxStops, v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    std::string s = get_string(v[i], fmt::format("{}[{}]", param, i));
    if (!s.empty()) stop.push_back(std::move(s));
  }
}

namespace {

void parse_response_format(const json& v, ResponseFormat& rf) {
  if (!v.is_object()) bad_param("response_format", "must be an object, got {}", type_name(v));
  auto* type = field(v, "type");
  if (!type) bad_param("response_format.type", "is required");
  std::string t = get_string(*type, "response_format.type");
  if (t == "text") {
    rf.kind = ResponseFormat::Kind::Text;
  } else if (t == "json_object") {
    rf.kind = ResponseFormat::Kind::JsonObject;
  } else if (t == "json_schema") {
    rf.kind = ResponseFormat::Kind::JsonSchema;
    auto* js = field(v, "json_schema");
    if (!js || !js->is_object()) bad_param("response_format.json_schema", "must be an object with a 'schema'");
    if (auto* name = field(*js, "name")) rf.name = get_string(*name, "response_format.json_schema.name");
    auto* schema = field(*js, "schema");
    if (!schema) bad_param("response_format.json_schema.schema", "is required");
    if (!schema->is_object() && !schema->is_boolean())
      bad_param("response_format.json_schema.schema", "must be a JSON schema object, got {}", type_name(*schema));
    rf.schema = *schema;
  } else {
    bad_param("response_format.type", "must be 'text', 'json_object' or 'json_schema', got '{}'", t);
  }
}

// The fields chat and completions share.
void parse_generation(const json& body, GenerationOptions& g) {
  parse_sampling(body, g.sampling);
  constexpr int64_t kMaxTokens = int64_t{1} << 30;
  if (auto* v = field(body, "max_tokens")) g.max_tokens = get_int(*v, "max_tokens", 1, kMaxTokens);
  if (auto* v = field(body, "max_completion_tokens"))
    g.max_tokens = get_int(*v, "max_completion_tokens", 1, kMaxTokens);
  if (auto* v = field(body, "truncate_prompt_tokens"))
    g.truncate_prompt_tokens = get_int(*v, "truncate_prompt_tokens", 1, kMaxTokens);
  if (auto* v = field(body, "stop")) parse_stop_strings(*v, "stop", g.stop);
  if (auto* v = field(body, "n")) g.n = static_cast<int>(get_int(*v, "n", 1, 16));
  if (auto* v = field(body, "stream")) g.stream = get_bool(*v, "stream");
  if (auto* v = field(body, "stream_options")) {
    if (!v->is_object()) bad_param("stream_options", "must be an object, got {}", type_name(*v));
    if (!g.stream) bad_param("stream_options", "is only allowed when 'stream' is true");
    if (auto* u = field(*v, "include_usage")) g.include_usage = get_bool(*u, "stream_options.include_usage");
  }
  if (auto* v = field(body, "ignore_eos")) g.ignore_eos = get_bool(*v, "ignore_eos");
  if (auto* v = field(body, "speculation")) g.speculation = parse_speculation(*v, "speculation");
  if (auto* v = field(body, "user")) g.user = get_string(*v, "user");
  if (auto* v = field(body, "response_format")) parse_response_format(*v, g.response_format);
  if (auto* v = field(body, "best_of")) {
    if (get_int(*v, "best_of", 1, 16) != g.n) bad_param("best_of", "is not supported (only best_of == n)");
  }
}

std::string parse_content(const json& v, const std::string& param) {
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_array()) bad_param(param, "must be a string or an array of text parts, got {}", type_name(v));
  std::string text;
  for (size_t j = 0; j < v.size(); ++j) {
    std::string p = fmt::format("{}[{}]", param, j);
    const json& part = v[j];
    if (!part.is_object()) bad_param(p, "must be an object, got {}", type_name(part));
    auto* type = field(part, "type");
    if (!type) bad_param(p + ".type", "is required");
    std::string t = get_string(*type, p + ".type");
    if (t != "text") bad_param(p + ".type", "'{}' is not supported; only 'text' parts are", t);
    auto* txt = field(part, "text");
    if (!txt) bad_param(p + ".text", "is required");
    text += get_string(*txt, p + ".text");
  }
  return text;
}

std::vector<ChatMessage> parse_messages(const json& v) {
  if (!v.is_array()) bad_param("messages", "must be an array, got {}", type_name(v));
  if (v.empty()) bad_param("messages", "must hold at least one message");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < v.size(); ++i) {
    std::string p = fmt::format("messages[{}]", i);
    const json& m = v[i];
    if (!m.is_object()) bad_param(p, "must be an object, got {}", type_name(m));
    ChatMessage msg;
    auto* role = field(m, "role");
    if (!role) bad_param(p + ".role", "is required");
    msg.role = get_string(*role, p + ".role");
    if (msg.role != "system" && msg.role != "user" && msg.role != "assistant" && msg.role != "tool" &&
        msg.role != "developer")
      bad_param(p + ".role", "must be one of system, developer, user, assistant, tool; got '{}'", msg.role);
    if (auto* tc = field(m, "tool_calls")) {
      if (msg.role != "assistant") bad_param(p + ".tool_calls", "is only allowed on assistant messages");
      if (!tc->is_array()) bad_param(p + ".tool_calls", "must be an array, got {}", type_name(*tc));
      msg.tool_calls = *tc;
    }
    auto* content = field(m, "content");
    if (content) {
      msg.content = parse_content(*content, p + ".content");
    } else if (msg.role != "assistant" || msg.tool_calls.is_null()) {
      bad_param(p + ".content", "is required");
    }
    if (auto* name = field(m, "name")) msg.name = get_string(*name, p + ".name");
    if (auto* id = field(m, "tool_call_id")) msg.tool_call_id = get_string(*id, p + ".tool_call_id");
    out.push_back(std::move(msg));
  }
  return out;
}

void parse_tools(const json& body, ChatRequest& r) {
  if (auto* v = field(body, "tools")) {
    if (!v->is_array()) bad_param("tools", "must be an array, got {}", type_name(*v));
    for (size_t i = 0; i < v->size(); ++i) {
      std::string p = fmt::format("tools[{}]", i);
      const json& t = (*v)[i];
      if (!t.is_object()) bad_param(p, "must be an object, got {}", type_name(t));
      auto* type = field(t, "type");
      if (!type || get_string(*type, p + ".type") != "function")
        bad_param(p + ".type", "must be 'function'");
      auto* fn = field(t, "function");
      if (!fn || !fn->is_object()) bad_param(p + ".function", "must be an object");
      ToolSpec spec;
      auto* name = field(*fn, "name");
      if (!name) bad_param(p + ".function.name", "is required");
      spec.name = get_string(*name, p + ".function.name");
      if (spec.name.empty()) bad_param(p + ".function.name", "must not be empty");
      if (auto* d = field(*fn, "description")) spec.description = get_string(*d, p + ".function.description");
      if (auto* params = field(*fn, "parameters")) {
        if (!params->is_object()) bad_param(p + ".function.parameters", "must be a JSON schema object");
        spec.parameters = *params;
      } else {
        spec.parameters = json{{"type", "object"}, {"properties", json::object()}};
      }
      r.tools.push_back(std::move(spec));
    }
    r.tools_json = *v;
  }
  if (auto* v = field(body, "tool_choice")) {
    if (v->is_string()) {
      std::string s = v->get<std::string>();
      if (s == "auto") r.tool_choice.mode = ToolChoice::Mode::Auto;
      else if (s == "none") r.tool_choice.mode = ToolChoice::Mode::None;
      else if (s == "required") r.tool_choice.mode = ToolChoice::Mode::Required;
      else bad_param("tool_choice", "must be 'auto', 'none', 'required' or a function, got '{}'", s);
    } else if (v->is_object()) {
      auto* fn = field(*v, "function");
      auto* name = fn && fn->is_object() ? field(*fn, "name") : nullptr;
      if (!name) bad_param("tool_choice.function.name", "is required");
      r.tool_choice.mode = ToolChoice::Mode::Named;
      r.tool_choice.name = get_string(*name, "tool_choice.function.name");
      bool known = false;
      for (auto& t : r.tools) known |= t.name == r.tool_choice.name;
      if (!known) bad_param("tool_choice.function.name", "names no tool in 'tools': '{}'", r.tool_choice.name);
    } else {
      bad_param("tool_choice", "must be a string or an object, got {}", type_name(*v));
    }
    if (r.tools.empty() && r.tool_choice.mode != ToolChoice::Mode::None &&
        r.tool_choice.mode != ToolChoice::Mode::Auto)
      bad_param("tool_choice", "needs 'tools'");
  }
}

}  // namespace

bool json_depth_at_most(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

json parse_json_body(const std::string& body) {
  if (!json_depth_at_most(body, kMaxJsonDepth))
    throw ApiError(400, fmt::format("The request body nests arrays and objects deeper than {} levels.", kMaxJsonDepth),
                   "invalid_request_error", "", "invalid_json");
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw ApiError(400, "The request body is not valid JSON.", "invalid_request_error", "", "invalid_json");
  if (!j.is_object()) throw ApiError(400, "The request body must be a JSON object.", "invalid_request_error", "", "invalid_json");
  return j;
}

SpeculationOptions parse_speculation(const json& v, const std::string& param) {
  SpeculationOptions s;
  if (!v.is_object()) bad_param(param, "must be an object like {{\"mode\": \"ngram\", \"max_draft\": 4}}, got {}", type_name(v));
  if (auto* m = field(v, "mode")) {
    std::string mode = get_string(*m, param + ".mode");
    if (mode == "ngram") s.mode = SpeculationOptions::Mode::Ngram;
    else if (mode == "off") s.mode = SpeculationOptions::Mode::Off;
    else bad_param(param + ".mode", "must be 'ngram' or 'off', got '{}'", mode);
  }
  if (auto* k = field(v, "max_draft")) s.max_draft = static_cast<int>(get_int(*k, param + ".max_draft", 1, SpeculationParams::kMaxMaxDraft));
  return s;
}

ChatRequest parse_chat_request(const json& body) {
  ChatRequest r;
  if (auto* v = field(body, "model")) r.model = get_string(*v, "model");
  auto* msgs = field(body, "messages");
  if (!msgs) bad_param("messages", "is required");
  r.messages = parse_messages(*msgs);
  parse_generation(body, r.gen);
  if (auto* v = field(body, "logprobs")) r.gen.logprobs = get_bool(*v, "logprobs");
  if (auto* v = field(body, "top_logprobs")) {
    r.gen.top_logprobs = static_cast<int>(get_int(*v, "top_logprobs", 0, 20));
    if (!r.gen.logprobs && r.gen.top_logprobs > 0) bad_param("top_logprobs", "needs 'logprobs' set to true");
  }
  parse_tools(body, r);
  return r;
}

CompletionRequest parse_completion_request(const json& body) {
  CompletionRequest r;
  if (auto* v = field(body, "model")) r.model = get_string(*v, "model");
  auto* p = field(body, "prompt");
  if (!p) bad_param("prompt", "is required");
  // A string, a token array, or an array of either (a batch: LangChain's OpenAI.generate() sends one).
  auto one = [](const json& v, const std::string& param) {
    CompletionPrompt prompt;
    if (v.is_string()) {
      prompt.text = v.get<std::string>();
    } else if (v.is_array()) {
      prompt.is_tokens = true;
      prompt.tokens = get_token_array(v, param);
      if (prompt.tokens.empty()) bad_param(param, "must not be empty");
    } else {
      bad_param(param, "must be a string or an array of token ids, got {}", type_name(v));
    }
    return prompt;
  };
  const bool batch = p->is_array() && !p->empty() && ((*p)[0].is_string() || (*p)[0].is_array());
  if (batch) {
    if (p->size() > kMaxBatchPrompts) bad_param("prompt", "may hold at most {} prompts, got {}", kMaxBatchPrompts, p->size());
    r.batched = true;
    for (size_t i = 0; i < p->size(); ++i) {
      const json& item = (*p)[i];
      const std::string param = fmt::format("prompt[{}]", i);
      if (!item.is_string() && !item.is_array()) bad_param(param, "must be a string or an array of token ids, got {}", type_name(item));
      r.prompts.push_back(one(item, param));
    }
  } else {
    r.prompts.push_back(one(*p, "prompt"));
  }
  parse_generation(body, r.gen);
  if (auto* v = field(body, "echo")) r.echo = get_bool(*v, "echo");
  if (auto* v = field(body, "suffix")) {
    if (!get_string(*v, "suffix").empty()) bad_param("suffix", "is not supported");
  }
  // Legacy completions: logprobs is the number of top alternatives (0-5) per token.
  if (auto* v = field(body, "logprobs")) {
    r.gen.logprobs = true;
    r.gen.top_logprobs = static_cast<int>(get_int(*v, "logprobs", 0, 5));
  }
  if (r.gen.response_format.kind != ResponseFormat::Kind::Text && r.echo)
    bad_param("echo", "cannot be combined with a JSON response_format");
  if (r.prompts.size() * static_cast<size_t>(r.gen.n) > kMaxBatchChoices)
    bad_param("n", "times the {} prompts asks for {} choices; at most {} per request", r.prompts.size(),
              r.prompts.size() * r.gen.n, kMaxBatchChoices);
  return r;
}

TokenGenerateRequest parse_generate_request(const json& body) {
  TokenGenerateRequest r;
  auto* tokens = field(body, "input_tokens");
  auto* text = field(body, "input_text");
  auto* messages = field(body, "messages");
  if ((tokens != nullptr) + (text != nullptr) + (messages != nullptr) > 1)
    bad_param(tokens ? "input_tokens" : "input_text", "and '{}' are exclusive; send one of input_tokens, input_text, messages",
              messages ? "messages" : "input_text");
  if (tokens) {
    r.input_tokens = get_token_array(*tokens, "input_tokens");
    if (r.input_tokens.empty()) bad_param("input_tokens", "must not be empty");
  } else if (text) {
    r.input = TokenGenerateRequest::Input::Text;
    r.input_text = get_string(*text, "input_text");
  } else if (messages) {
    r.input = TokenGenerateRequest::Input::Messages;
    r.messages = parse_messages(*messages);
  } else {
    bad_param("input_tokens", "is required (or 'input_text', or 'messages')");
  }
  if (auto* v = field(body, "max_output_tokens")) r.max_output_tokens = get_int(*v, "max_output_tokens", 1, int64_t{1} << 30);
  if (auto* v = field(body, "sampling")) {
    if (!v->is_object()) bad_param("sampling", "must be an object, got {}", type_name(*v));
    parse_sampling(*v, r.sampling);
  }
  if (auto* v = field(body, "ignore_eos")) r.ignore_eos = get_bool(*v, "ignore_eos");
  if (auto* v = field(body, "stop_token_ids")) r.stop_token_ids = get_token_array(*v, "stop_token_ids");
  if (auto* v = field(body, "stop")) parse_stop_strings(*v, "stop", r.stop);
  if (auto* v = field(body, "speculation")) r.speculation = parse_speculation(*v, "speculation");
  if (auto* v = field(body, "logprobs")) r.logprobs = get_bool(*v, "logprobs");
  if (auto* v = field(body, "top_logprobs")) r.top_logprobs = static_cast<int>(get_int(*v, "top_logprobs", 0, 20));
  return r;
}

void check_token_ids(const std::vector<int32_t>& ids, int64_t vocab_size, const std::string& param) {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocab_size)
      bad_param(fmt::format("{}[{}]", param, i), "is token id {}, outside the vocabulary [0, {})", ids[i], vocab_size);
}

}  // namespace ax::server
