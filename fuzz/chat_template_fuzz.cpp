// libFuzzer target: the chat-template path every chat request takes: Jinja lexer, parser and
// interpreter (src/tokenizer/jinja/) behind ax::ChatTemplate. The input is a template source,
// optionally followed by a NUL byte and a JSON messages array. Any input must render or end in
// an ax::Error: a crash, sanitizer report, uncaught exception, hang or runaway allocation is a
// bug. The render limits are lowered so a slow input fails fast instead of timing out.
// Build and run with scripts/fuzz.sh chat_template.
//
// fuzz-sources: src/tokenizer/chat_template.cpp src/tokenizer/jinja/error.cpp
// fuzz-sources: src/tokenizer/jinja/filters.cpp src/tokenizer/jinja/globals.cpp
// fuzz-sources: src/tokenizer/jinja/interpreter.cpp src/tokenizer/jinja/json_dump.cpp
// fuzz-sources: src/tokenizer/jinja/lexer.cpp src/tokenizer/jinja/methods.cpp
// fuzz-sources: src/tokenizer/jinja/ops.cpp src/tokenizer/jinja/parser.cpp
// fuzz-sources: src/tokenizer/jinja/template.cpp src/tokenizer/jinja/tests.cpp
// fuzz-sources: src/tokenizer/jinja/unicode.cpp src/tokenizer/jinja/value.cpp
// fuzz-seeds: tests/tokenizer/data/chat_templates/qwen3.jinja
// fuzz-seeds: tests/tokenizer/data/chat_templates/gguf-gemma-4.jinja
// fuzz-seeds: tests/tokenizer/data/chat_templates/llama-3.1.jinja
// fuzz-seeds: tests/tokenizer/data/chat_templates/mistral-small-3.1.jinja
// fuzz-seeds: tests/tokenizer/data/chat_templates/mistral-v0.3.jinja
// fuzz-seeds: tests/tokenizer/data/chat_templates/gemma-3.jinja
// fuzz-seeds: tests/tokenizer/data/chat_templates/phi-3.5-mini.jinja
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenizer/chat_template.h"
#include "util/error.h"

namespace {

const nlohmann::ordered_json& default_messages() {
  static const auto m = nlohmann::ordered_json::parse(R"([
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "What's the weather in Paris? ✓"},
    {"role": "assistant", "content": "<think>\nlook it up\n</think>\n\n", "tool_calls": [
      {"id": "call0Abc9", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
    {"role": "tool", "tool_call_id": "call0Abc9", "content": "{\"t\": 21}"},
    {"role": "assistant", "content": "21 °C.", "reasoning_content": "easy"},
    {"role": "user", "content": [{"type": "text", "text": "thanks"}, {"type": "image"}]}
  ])");
  return m;
}

const nlohmann::ordered_json& default_tools() {
  static const auto t = nlohmann::ordered_json::parse(R"([
    {"type": "function", "function": {"name": "get_weather", "description": "Weather",
     "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["a", "b"]},
     "n": {"type": "integer", "nullable": true}}, "required": ["city"]}}}
  ])");
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view source = input.substr(0, input.find('\0'));
  nlohmann::ordered_json messages = default_messages();
  if (source.size() < input.size()) {
    auto parsed = nlohmann::ordered_json::parse(input.substr(source.size() + 1), nullptr, false);
    if (!parsed.is_discarded()) messages = std::move(parsed);
  }
  std::unique_ptr<ax::ChatTemplate> tpl;
  try {
    tpl = std::make_unique<ax::ChatTemplate>(source);
  } catch (const ax::Error&) {
    return 0;
  }
  ax::ChatTemplateOptions o;
  o.limits.max_steps = 20000;
  o.limits.max_output_bytes = 1 << 20;
  o.limits.max_call_depth = 64;
  o.bos_token = "<s>";
  o.eos_token = "</s>";
  o.clock = [] { return std::time_t{1721995200}; };
  for (int variant = 0; variant < 2; ++variant) {
    o.add_generation_prompt = variant == 0;
    o.tools = variant == 0 ? nlohmann::ordered_json() : default_tools();
    o.extra_context = {{"enable_thinking", variant == 1}};
    try {
      tpl->render(messages, o);
    } catch (const ax::Error&) {
    }
  }
  return 0;
}
