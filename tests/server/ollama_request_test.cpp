// Ollama /api/chat and /api/generate bodies translated to the chat shape: messages with thinking
// and object-valued tool arguments, options under OpenAI's names, format, think, keep_alive
// durations, and errors that name the Ollama field at fault.
#include <gtest/gtest.h>

#include "server/ollama_request.h"
#include "api_error_support.h"

namespace ax::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

OllamaRequest chat(const json& body) { return parse_ollama_chat(body, ordered_json::parse(body.dump())); }
OllamaRequest generate(const json& body) { return parse_ollama_generate(body, ordered_json::parse(body.dump())); }

std::string chat_error(const json& body) {
  return test::bad_request_of([&] { chat(body); });
}
std::string generate_error(const json& body) {
  return test::bad_request_of([&] { generate(body); });
}

TEST(OllamaRequest, ChatMessagesWithThinkingAndToolCalls) {
  const json body = {
      {"model", "m"},
      {"messages",
       {{{"role", "system"}, {"content", "Be brief."}},
        {{"role", "user"}, {"content", "Weather in Paris?"}},
        {{"role", "assistant"}, {"content", ""}, {"thinking", "Need the tool."},
         {"tool_calls", {{{"function", {{"name", "weather"}, {"arguments", {{"city", "Paris"}, {"days", 2}}}}}}}}},
        {{"role", "tool"}, {"content", "18C"}, {"tool_name", "weather"}}}},
      {"tools", {{{"type", "function"}, {"function", {{"name", "weather"}, {"parameters", {{"type", "object"}}}}}}}}};
  const OllamaRequest r = chat(body);
  EXPECT_TRUE(r.stream);  // Ollama's default
  EXPECT_FALSE(r.load_only);
  const ordered_json& m = r.chat_body["messages"];
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[2]["reasoning_content"], "Need the tool.");
  // Arguments become the string OpenAI messages carry, in the order the client wrote them.
  EXPECT_EQ(m[2]["tool_calls"][0]["function"]["arguments"], R"({"city":"Paris","days":2})");
  EXPECT_EQ(m[2]["tool_calls"][0]["function"]["name"], "weather");
  EXPECT_EQ(m[3]["name"], "weather");
  ASSERT_EQ(r.chat.tools.size(), 1u);
  EXPECT_EQ(r.chat.tools[0].name, "weather");
}

TEST(OllamaRequest, OptionsMapToSamplingAndLimits) {
  const json body = {{"model", "m"}, {"prompt", "hi"}, {"stream", false},
                     {"options", {{"num_predict", 7}, {"num_ctx", 256}, {"temperature", 0.2}, {"top_p", 0.9},
                                  {"top_k", 20}, {"min_p", 0.05}, {"seed", 42}, {"repeat_penalty", 1.3},
                                  {"presence_penalty", 0.5}, {"frequency_penalty", -0.5}, {"stop", {"END", "\n\n"}},
                                  {"num_thread", 8}, {"num_gpu", 99}, {"repeat_last_n", 64}, {"mirostat", 0}}}};
  const OllamaRequest r = generate(body);
  EXPECT_FALSE(r.stream);
  EXPECT_EQ(r.num_predict, 7);
  EXPECT_EQ(r.num_ctx, 256);
  const SamplingOptions& s = r.chat.gen.sampling;
  EXPECT_FLOAT_EQ(s.temperature, 0.2f);
  EXPECT_FLOAT_EQ(s.top_p, 0.9f);
  EXPECT_EQ(s.top_k, 20);
  EXPECT_FLOAT_EQ(s.min_p, 0.05f);
  EXPECT_EQ(s.seed, 42u);
  EXPECT_FLOAT_EQ(s.repetition_penalty, 1.3f);
  EXPECT_FLOAT_EQ(s.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(s.frequency_penalty, -0.5f);
  EXPECT_EQ(r.chat.gen.stop, (std::vector<std::string>{"END", "\n\n"}));
  EXPECT_FALSE(r.chat.gen.max_tokens);  // num_predict is applied once the prompt is known
  // -1 and -2 mean "no limit" and "fill the context".
  EXPECT_FALSE(generate({{"model", "m"}, {"prompt", "hi"}, {"options", {{"num_predict", -1}}}}).num_predict);
  EXPECT_FALSE(generate({{"model", "m"}, {"prompt", "hi"}, {"options", {{"num_predict", -2}}}}).num_predict);
}

TEST(OllamaRequest, GenerateBecomesSystemAndUserMessages) {
  const OllamaRequest r = generate({{"model", "m"}, {"prompt", "Why?"}, {"system", "Answer in French."},
                                    {"context", {1, 2, 3}}, {"raw", false}});
  ASSERT_EQ(r.chat_body["messages"].size(), 2u);
  EXPECT_EQ(r.chat_body["messages"][0]["role"], "system");
  EXPECT_EQ(r.chat_body["messages"][1]["content"], "Why?");
  EXPECT_EQ(r.context, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_TRUE(generate({{"model", "m"}, {"prompt", "x"}, {"raw", true}}).raw);
  // Nothing to generate from: Ollama's way of loading a model.
  EXPECT_TRUE(generate({{"model", "m"}}).load_only);
  EXPECT_TRUE(chat({{"model", "m"}, {"messages", json::array()}}).load_only);
}

TEST(OllamaRequest, FormatAndThink) {
  EXPECT_EQ(chat({{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "x"}}}}, {"format", "json"}})
                .chat.gen.response_format.kind,
            ResponseFormat::Kind::JsonObject);
  const json schema = {{"type", "object"}, {"properties", {{"a", {{"type", "integer"}}}}}};
  const OllamaRequest r = chat({{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "x"}}}}, {"format", schema}});
  EXPECT_EQ(r.chat.gen.response_format.kind, ResponseFormat::Kind::JsonSchema);
  EXPECT_EQ(r.chat.gen.response_format.schema, schema);
  EXPECT_EQ(r.chat.gen.response_format.schema_param, "format");  // schema errors name Ollama's field
  EXPECT_EQ(chat({{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "x"}}}}, {"think", false}}).thinking.enabled,
            false);
  const OllamaRequest high = chat({{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "x"}}}}, {"think", "high"}});
  EXPECT_EQ(high.thinking.enabled, true);
  EXPECT_EQ(high.thinking.effort, "high");
}

TEST(OllamaRequest, KeepAliveDurations) {
  EXPECT_DOUBLE_EQ(parse_keep_alive(json(300)), 300);
  EXPECT_DOUBLE_EQ(parse_keep_alive(json("5m")), 300);
  EXPECT_DOUBLE_EQ(parse_keep_alive(json("1h30m")), 5400);
  EXPECT_DOUBLE_EQ(parse_keep_alive(json("1.5s")), 1.5);
  EXPECT_DOUBLE_EQ(parse_keep_alive(json("250ms")), 0.25);
  EXPECT_DOUBLE_EQ(parse_keep_alive(json("-1")), -1);
  EXPECT_DOUBLE_EQ(parse_keep_alive(json("-1m")), -60);
  EXPECT_DOUBLE_EQ(parse_keep_alive(json("0")), 0);
  for (const char* bad : {"", "5 minutes", "5x", "m", "1m5"})
    EXPECT_NE(test::bad_request_of([&] { parse_keep_alive(json(bad)); }).find("keep_alive"), std::string::npos) << bad;
}

TEST(OllamaRequest, ModelNamesDropTheLatestTag) {
  EXPECT_EQ(ollama_model_name("ax-code-15m:latest"), "ax-code-15m");
  EXPECT_EQ(ollama_model_name("ax-code-15m"), "ax-code-15m");
  EXPECT_EQ(ollama_model_name("qwen3:8b"), "qwen3:8b");
}

TEST(OllamaRequest, ErrorsNameTheOllamaField) {
  const json user = {{{"role", "user"}, {"content", "x"}}};
  EXPECT_EQ(chat_error({{"messages", user}}), "model: model is required");
  EXPECT_EQ(chat_error({{"model", "m"}, {"messages", user}, {"options", {{"temperature", 5}}}}),
            "options.temperature: 'options.temperature' must be in [0, 2], got 5");
  EXPECT_EQ(chat_error({{"model", "m"}, {"messages", user}, {"options", {{"num_predict", 0}}}}).substr(0, 20),
            "options.num_predict:");
  EXPECT_EQ(chat_error({{"model", "m"}, {"messages", user}, {"options", {{"mirostat", 2}}}}).substr(0, 17),
            "options.mirostat:");
  EXPECT_EQ(chat_error({{"model", "m"}, {"messages", user}, {"format", "yaml"}}).substr(0, 7), "format:");
  EXPECT_EQ(chat_error({{"model", "m"}, {"messages", user}, {"think", "max"}}).substr(0, 6), "think:");
  EXPECT_EQ(chat_error({{"model", "m"}, {"messages", {{{"role", "bot"}, {"content", "x"}}}}}).substr(0, 17),
            "messages[0].role:");
  EXPECT_EQ(chat_error({{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "x"}, {"images", {"aGk="}}}}}}),
            "messages[0].images: 'messages[0].images' holds images, which are not supported: this server runs "
            "text-only models");
  EXPECT_EQ(generate_error({{"model", "m"}, {"prompt", "x"}, {"images", {"aGk="}}}).substr(0, 7), "images:");
  EXPECT_EQ(generate_error({{"model", "m"}, {"prompt", "x"}, {"suffix", "y"}}).substr(0, 7), "suffix:");
  EXPECT_EQ(generate_error({{"model", "m"}, {"prompt", "x"}, {"template", "{{ .Prompt }}"}}).substr(0, 9), "template:");
  EXPECT_EQ(generate_error({{"model", "m"}, {"prompt", "x"}, {"context", {1, -2}}}).substr(0, 11), "context[1]:");
  // An empty images list is what some clients always send.
  EXPECT_EQ(chat_error({{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "x"}, {"images", json::array()}}}}}),
            "no error");
}

}  // namespace
}  // namespace ax::server
