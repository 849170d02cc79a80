// Parsing and validation of OpenAI request bodies: accepted shapes, defaults, and 400s that name
// the parameter at fault.
#include <gtest/gtest.h>

#include <random>

#include "server/api_error.h"
#include "server/openai_request.h"

namespace ax::server {
namespace {

using nlohmann::json;

// The parameter an invalid body is rejected for.
template <typename F>
std::string rejected_param(F&& parse) {
  try {
    parse();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400) << e.what();
    EXPECT_EQ(e.type(), "invalid_request_error");
    return e.param();
  }
  return "<accepted>";
}

json chat(json extra = json::object()) {
  json body = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  body.update(extra);
  return body;
}

TEST(OpenAiRequest, ChatDefaultsAndFields) {
  std::mt19937_64 rng(std::random_device{}());
  float temperature = std::uniform_real_distribution<float>(0, 2)(rng);
  int64_t seed = static_cast<int64_t>(rng() >> 1);
  SCOPED_TRACE(testing::Message() << "temperature " << temperature << " seed " << seed);
  ChatRequest r = parse_chat_request(chat({{"temperature", temperature}, {"seed", seed},
                                           {"max_completion_tokens", 7}, {"stop", "END"},
                                           {"n", 3}, {"logprobs", true}, {"top_logprobs", 2},
                                           {"top_k", 40}, {"min_p", 0.05}, {"unknown_field", {1, 2}},
                                           {"logit_bias", {{"17", -100}, {"3", 5.5}}},
                                           {"speculation", {{"mode", "ngram"}, {"max_draft", 4}}}}));
  EXPECT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].content, "hi");
  EXPECT_FLOAT_EQ(r.gen.sampling.temperature, temperature);
  EXPECT_EQ(*r.gen.sampling.seed, static_cast<uint64_t>(seed));
  EXPECT_EQ(*r.gen.max_tokens, 7);
  EXPECT_EQ(r.gen.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(r.gen.n, 3);
  EXPECT_TRUE(r.gen.logprobs);
  EXPECT_EQ(r.gen.top_logprobs, 2);
  EXPECT_EQ(r.gen.sampling.top_k, 40);
  ASSERT_EQ(r.gen.sampling.logit_bias.size(), 2u);
  EXPECT_EQ(r.gen.speculation.mode, SpeculationOptions::Mode::Ngram);
  EXPECT_EQ(r.gen.speculation.max_draft, 4);

  ChatRequest d = parse_chat_request(chat());
  EXPECT_FALSE(d.gen.max_tokens.has_value());
  EXPECT_EQ(d.gen.n, 1);
  EXPECT_FALSE(d.gen.stream);
  EXPECT_EQ(d.gen.response_format.kind, ResponseFormat::Kind::Text);
}

TEST(OpenAiRequest, ContentPartsAreJoined) {
  json msgs = {{{"role", "system"}, {"content", "sys"}},
               {{"role", "user"}, {"content", {{{"type", "text"}, {"text", "a"}}, {{"type", "text"}, {"text", "b"}}}}},
               {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array()}}};
  ChatRequest r = parse_chat_request({{"messages", msgs}});
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[1].content, "ab");
  EXPECT_EQ(r.messages[2].content, "");
}

TEST(OpenAiRequest, ChatRejectionsNameTheParameter) {
  EXPECT_EQ(rejected_param([] { parse_chat_request({{"model", "m"}}); }), "messages");
  EXPECT_EQ(rejected_param([] { parse_chat_request({{"messages", json::array()}}); }), "messages");
  EXPECT_EQ(rejected_param([] { parse_chat_request({{"messages", "hi"}}); }), "messages");
  EXPECT_EQ(rejected_param([] { parse_chat_request({{"messages", {{{"role", "robot"}, {"content", "x"}}}}}); }), "messages[0].role");
  EXPECT_EQ(rejected_param([] { parse_chat_request({{"messages", {{{"role", "user"}}}}}); }), "messages[0].content");
  EXPECT_EQ(rejected_param([] { parse_chat_request({{"messages", {{{"role", "user"}, {"content", 5}}}}}); }), "messages[0].content");
  EXPECT_EQ(rejected_param([] {
              parse_chat_request({{"messages", {{{"role", "user"}, {"content", {{{"type", "image_url"}}}}}}}});
            }),
            "messages[0].content[0].type");
  EXPECT_EQ(rejected_param([] { parse_chat_request(chat({{"temperature", 3}})); }), "temperature");
  EXPECT_EQ(rejected_param([] { parse_chat_request(chat({{"temperature", "hot"}})); }), "temperature");
  EXPECT_EQ(rejected_param([] { parse_chat_request(chat({{"top_p", 0}})); }), "top_p");
  EXPECT_EQ(rejected_param([] { parse_chat_request(chat({{"max_tokens", 0}})); }), "max_tokens");
  EXPECT_EQ(rejected_param([] { parse_chat_request(chat({{"max_tokens", 2.5}})); }), "max_tokens");
  EXPECT_EQ(rejected_param([] { parse_chat_request(chat({{"n", 0}})); }), "n");
  EXPECT_EQ(rejected_param([] { parse_chat_request(chat({{"stop", 3}})); }), "stop");
  EXPECT_EQ(rejected_param([] { parse_chat_request(chat({{"stop", {"a", 1}}})); }), "stop[1]");
  EXPECT_EQ(rejected_param([] { parse_chat_request(chat({{"top_logprobs", 3}})); }), "top_logprobs");
  EXPECT_EQ(rejected_param([] { parse_chat_request(chat({{"logprobs", true}, {"top_logprobs", 21}})); }), "top_logprobs");
  EXPECT_EQ(rejected_param([] { parse_chat_request(chat({{"logit_bias", {{"x", 1}}}})); }), "logit_bias");
  EXPECT_EQ(rejected_param([] { parse_chat_request(chat({{"logit_bias", {{"1", 101}}}})); }), "logit_bias");
  EXPECT_EQ(rejected_param([] { parse_chat_request(chat({{"stream_options", {{"include_usage", true}}}})); }), "stream_options");
  EXPECT_EQ(rejected_param([] { parse_chat_request(chat({{"response_format", {{"type", "xml"}}}})); }), "response_format.type");
  EXPECT_EQ(rejected_param([] { parse_chat_request(chat({{"response_format", {{"type", "json_schema"}}}})); }), "response_format.json_schema");
  EXPECT_EQ(rejected_param([] { parse_chat_request(chat({{"speculation", {{"mode", "eagle"}}}})); }), "speculation.mode");
  EXPECT_EQ(rejected_param([] { parse_chat_request(chat({{"speculation", {{"max_draft", 0}}}})); }), "speculation.max_draft");
  EXPECT_EQ(rejected_param([] { parse_chat_request(chat({{"tool_choice", "required"}})); }), "tool_choice");
  EXPECT_EQ(rejected_param([] { parse_chat_request(chat({{"tools", {{{"type", "function"}, {"function", {{"description", "x"}}}}}}})); }),
            "tools[0].function.name");
  json tools = {{{"type", "function"}, {"function", {{"name", "f"}}}}};
  EXPECT_EQ(rejected_param([&] {
              parse_chat_request(chat({{"tools", tools}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "g"}}}}}}));
            }),
            "tool_choice.function.name");
}

TEST(OpenAiRequest, NullMeansDefault) {
  ChatRequest r = parse_chat_request(chat({{"temperature", nullptr}, {"stop", nullptr}, {"max_tokens", nullptr}}));
  EXPECT_FLOAT_EQ(r.gen.sampling.temperature, 1.0f);
  EXPECT_TRUE(r.gen.stop.empty());
  EXPECT_FALSE(r.gen.max_tokens.has_value());
}

TEST(OpenAiRequest, ToolsAndChoice) {
  json tools = {{{"type", "function"},
                 {"function", {{"name", "get_weather"}, {"parameters", {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}}}}};
  ChatRequest r = parse_chat_request(chat({{"tools", tools}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "get_weather"}}}}}}));
  ASSERT_EQ(r.tools.size(), 1u);
  EXPECT_EQ(r.tools[0].name, "get_weather");
  EXPECT_EQ(r.tool_choice.mode, ToolChoice::Mode::Named);
  EXPECT_EQ(parse_chat_request(chat({{"tools", tools}, {"tool_choice", "required"}})).tool_choice.mode, ToolChoice::Mode::Required);
}

TEST(OpenAiRequest, CompletionPromptShapes) {
  std::mt19937 rng(std::random_device{}());
  std::vector<int32_t> ids(1 + rng() % 20);
  for (auto& t : ids) t = static_cast<int32_t>(rng() % 5000);
  CompletionRequest a = parse_completion_request({{"prompt", ids}});
  ASSERT_EQ(a.prompts.size(), 1u);
  EXPECT_TRUE(a.prompts[0].is_tokens);
  EXPECT_EQ(a.prompts[0].tokens, ids);
  CompletionRequest b = parse_completion_request({{"prompt", json::array({ids})}});
  ASSERT_EQ(b.prompts.size(), 1u);
  EXPECT_EQ(b.prompts[0].tokens, ids);
  CompletionRequest c = parse_completion_request({{"prompt", json::array({"once"})}, {"logprobs", 3}, {"echo", true}});
  ASSERT_EQ(c.prompts.size(), 1u);
  EXPECT_FALSE(c.prompts[0].is_tokens);
  EXPECT_EQ(c.prompts[0].text, "once");
  EXPECT_TRUE(c.gen.logprobs);
  EXPECT_EQ(c.gen.top_logprobs, 3);
  EXPECT_TRUE(c.echo);
  // A batch: several prompts, text or token ids.
  CompletionRequest d = parse_completion_request({{"prompt", json::array({"a", "b", ids})}, {"n", 2}});
  ASSERT_EQ(d.prompts.size(), 3u);
  EXPECT_TRUE(d.batched);
  EXPECT_EQ(d.prompts[1].text, "b");
  EXPECT_EQ(d.prompts[2].tokens, ids);
  EXPECT_EQ(rejected_param([] { parse_completion_request(json::object()); }), "prompt");
  EXPECT_EQ(rejected_param([] { parse_completion_request({{"prompt", json::array({"a", 1})}}); }), "prompt[1]");
  EXPECT_EQ(rejected_param([] { parse_completion_request({{"prompt", json::array({"a", json::array()})}}); }), "prompt[1]");
  EXPECT_EQ(rejected_param([] { parse_completion_request({{"prompt", std::vector<std::string>(65, "x")}}); }), "prompt");
  EXPECT_EQ(rejected_param([] { parse_completion_request({{"prompt", std::vector<std::string>(9, "x")}, {"n", 16}}); }), "n");
  EXPECT_EQ(rejected_param([] { parse_completion_request({{"prompt", json::array()}}); }), "prompt");
  EXPECT_EQ(rejected_param([] { parse_completion_request({{"prompt", {1, -2}}}); }), "prompt[1]");
  EXPECT_EQ(rejected_param([] { parse_completion_request({{"prompt", "x"}, {"logprobs", 6}}); }), "logprobs");
  EXPECT_EQ(rejected_param([] { parse_completion_request({{"prompt", "x"}, {"suffix", "y"}}); }), "suffix");
}

TEST(OpenAiRequest, GenerateRoute) {
  TokenGenerateRequest r = parse_generate_request(
      {{"input_tokens", {1, 2, 3}}, {"max_output_tokens", 9}, {"ignore_eos", true},
       {"sampling", {{"temperature", 0}, {"top_k", 5}, {"repetition_penalty", 1.1}, {"seed", 42}}}});
  EXPECT_EQ(r.input_tokens, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(r.max_output_tokens, 9);
  EXPECT_TRUE(r.ignore_eos);
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0);
  EXPECT_EQ(r.sampling.top_k, 5);
  EXPECT_EQ(*r.sampling.seed, 42u);
  TokenGenerateRequest t = parse_generate_request({{"input_text", "hello"}, {"stop", {"\n\n", "END"}}});
  EXPECT_EQ(t.input, TokenGenerateRequest::Input::Text);
  EXPECT_FALSE(t.max_output_tokens.has_value());  // the rest of the context
  EXPECT_EQ(t.stop, (std::vector<std::string>{"\n\n", "END"}));
  EXPECT_EQ(rejected_param([] { parse_generate_request({{"input_text", "x"}, {"stop", {1}}}); }), "stop[0]");
  TokenGenerateRequest m = parse_generate_request({{"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  EXPECT_EQ(m.input, TokenGenerateRequest::Input::Messages);
  ASSERT_EQ(m.messages.size(), 1u);
  EXPECT_EQ(m.messages[0].content, "hi");
  EXPECT_EQ(rejected_param([] { parse_generate_request({{"messages", {{{"role", "robot"}, {"content", "x"}}}}}); }),
            "messages[0].role");
  EXPECT_EQ(rejected_param([] { parse_generate_request({{"input_text", "x"}, {"messages", json::array()}}); }),
            "input_text");
  EXPECT_EQ(rejected_param([] { parse_generate_request(json::object()); }), "input_tokens");
  EXPECT_EQ(rejected_param([] { parse_generate_request({{"input_tokens", {1}}, {"input_text", "x"}}); }), "input_tokens");
  EXPECT_EQ(rejected_param([] { parse_generate_request({{"input_tokens", {1}}, {"sampling", {{"top_p", 2}}}}); }), "top_p");
  EXPECT_EQ(rejected_param([] { parse_generate_request({{"input_tokens", {1}}, {"max_output_tokens", -1}}); }), "max_output_tokens");
}

TEST(OpenAiRequest, BodyMustBeJsonObject) {
  for (const char* bad : {"", "{", "[1,2]", "\"x\"", "{\"a\":}", "nul"}) {
    try {
      parse_json_body(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status(), 400);
      json j = e.to_json();
      EXPECT_TRUE(j["error"].contains("message"));
      EXPECT_TRUE(j["error"]["param"].is_null());
    }
  }
  EXPECT_TRUE(parse_json_body("{\"a\": 1}").is_object());
}

TEST(OpenAiRequest, TokenIdsCheckedAgainstVocabulary) {
  EXPECT_NO_THROW(check_token_ids({0, 511}, 512, "prompt"));
  EXPECT_EQ(rejected_param([] { check_token_ids({0, 512}, 512, "prompt"); }), "prompt[1]");
}

}  // namespace
}  // namespace ax::server
