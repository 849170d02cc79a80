// Anthropic Messages bodies translated to the chat shape: roles, blocks, tools, thinking, and
// errors that name the Anthropic field at fault.
#include <gtest/gtest.h>

#include "server/anthropic_request.h"
#include "api_error_support.h"

namespace ax::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

MessagesRequest parse(const json& body, bool for_count = false) {
  return parse_messages_request(body, ordered_json::parse(body.dump()), for_count);
}

std::string error_of(const json& body) {
  return test::bad_request_of([&] { parse(body); });
}

TEST(AnthropicRequest, ToolRoundTripBecomesChatMessages) {
  const json body = {
      {"model", "m"}, {"max_tokens", 50}, {"system", json::array({{{"type", "text"}, {"text", "Be brief."}}})},
      {"messages",
       {{{"role", "user"}, {"content", "Weather in Paris?"}},
        {{"role", "assistant"},
         {"content",
          {{{"type", "thinking"}, {"thinking", "Need the tool."}, {"signature", ""}},
           {{"type", "text"}, {"text", "Checking."}},
           {{"type", "tool_use"}, {"id", "toolu_1"}, {"name", "weather"}, {"input", {{"city", "Paris"}}}}}}},
        {{"role", "user"},
         {"content",
          {{{"type", "tool_result"}, {"tool_use_id", "toolu_1"}, {"content", "18C"}},
           {{"type", "text"}, {"text", "And tomorrow?"}}}}}}},
      {"tools", {{{"name", "weather"}, {"description", "Weather now"},
                  {"input_schema", {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}}}},
      {"tool_choice", {{"type", "any"}}},
      {"stop_sequences", {"END"}},
      {"temperature", 0.5},
      {"top_k", 5}};
  MessagesRequest r = parse(body);
  const ordered_json& m = r.chat_body["messages"];
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[0], ordered_json({{"role", "system"}, {"content", "Be brief."}}));
  EXPECT_EQ(m[2]["content"], "Checking.");
  EXPECT_EQ(m[2]["reasoning_content"], "Need the tool.");
  EXPECT_EQ(m[2]["tool_calls"][0]["id"], "toolu_1");
  EXPECT_EQ(json::parse(m[2]["tool_calls"][0]["function"]["arguments"].get<std::string>()), json({{"city", "Paris"}}));
  EXPECT_EQ(m[3], ordered_json({{"role", "tool"}, {"tool_call_id", "toolu_1"}, {"content", "18C"}}));
  EXPECT_EQ(m[4], ordered_json({{"role", "user"}, {"content", "And tomorrow?"}}));
  EXPECT_FALSE(r.chat_body.contains("continue_final_message"));
  ASSERT_EQ(r.chat.tools.size(), 1u);
  EXPECT_EQ(r.chat.tools[0].name, "weather");
  EXPECT_EQ(r.chat.tool_choice.mode, ToolChoice::Mode::Required);
  EXPECT_EQ(r.chat.gen.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(*r.chat.gen.max_tokens, 50);
  EXPECT_EQ(r.chat.gen.sampling.top_k, 5);
  EXPECT_FLOAT_EQ(r.chat.gen.sampling.temperature, 0.5f);
}

TEST(AnthropicRequest, PrefillThinkingAndToolChoice) {
  MessagesRequest r = parse({{"max_tokens", 100},
                             {"messages", {{{"role", "user"}, {"content", "Say hi"}}, {{"role", "assistant"}, {"content", "Hi"}}}},
                             {"thinking", {{"type", "enabled"}, {"budget_tokens", 40}}}});
  EXPECT_EQ(r.chat_body["continue_final_message"], true);
  EXPECT_EQ(r.thinking.enabled, true);
  EXPECT_EQ(r.thinking.budget_tokens, 40);
  r = parse({{"max_tokens", 5}, {"messages", {{{"role", "user"}, {"content", "x"}}}}, {"thinking", {{"type", "disabled"}}}});
  EXPECT_EQ(r.thinking.enabled, false);
  EXPECT_FALSE(r.thinking.budget_tokens);
  r = parse({{"max_tokens", 5}, {"messages", {{{"role", "user"}, {"content", "x"}}}},
             {"tools", {{{"name", "f"}, {"input_schema", {{"type", "object"}}}}}},
             {"tool_choice", {{"type", "tool"}, {"name", "f"}}}});
  EXPECT_EQ(r.chat.tool_choice.mode, ToolChoice::Mode::Named);
  EXPECT_EQ(r.chat.tool_choice.name, "f");
  // count_tokens needs no max_tokens.
  EXPECT_NO_THROW(parse({{"messages", {{{"role", "user"}, {"content", "x"}}}}}, true));
}

TEST(AnthropicRequest, ErrorsNameTheAnthropicField) {
  const json user = {{"role", "user"}, {"content", "x"}};
  EXPECT_EQ(error_of({{"messages", {user}}}), "max_tokens: 'max_tokens' is required");
  EXPECT_EQ(error_of({{"max_tokens", 5}, {"messages", json::array()}}),
            "messages: 'messages' must hold at least one message");
  EXPECT_EQ(error_of({{"max_tokens", 5}, {"messages", {{{"role", "system"}, {"content", "x"}}}}}),
            "messages[0].role: 'messages[0].role' must be 'user' or 'assistant', got 'system'");
  EXPECT_EQ(error_of({{"max_tokens", 5},
                      {"messages", {{{"role", "user"}, {"content", {{{"type", "image"}, {"source", json::object()}}}}}}}}),
            "messages[0].content[0].type: 'messages[0].content[0].type' 'image' is not supported: this server runs "
            "text-only models");
  EXPECT_EQ(error_of({{"max_tokens", 5}, {"messages", {user}}, {"tools", {{{"type", "web_search_20250305"}, {"name", "w"}}}}})
                .substr(0, 14),
            "tools[0].type:");
  EXPECT_EQ(error_of({{"max_tokens", 5}, {"messages", {user}}, {"tool_choice", {{"type", "tool"}}}}),
            "tool_choice.name: 'tool_choice.name' is required when tool_choice.type is 'tool'");
  EXPECT_EQ(error_of({{"max_tokens", 5}, {"messages", {user}}, {"thinking", {{"type", "enabled"}, {"budget_tokens", 5}}}}),
            "thinking.budget_tokens: 'thinking.budget_tokens' must be less than max_tokens (5), which counts the thought too");
  EXPECT_EQ(error_of({{"max_tokens", 5}, {"messages", {user}}, {"temperature", 1.5}}),
            "temperature: 'temperature' must be in [0, 1], got 1.5");
  EXPECT_EQ(error_of({{"max_tokens", 5}, {"messages", {user}}, {"stop_sequences", "END"}}),
            "stop_sequences: 'stop_sequences' must be an array, got string");
}

}  // namespace
}  // namespace ax::server
