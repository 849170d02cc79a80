// The messages a chat template gets: what the template cannot show (template_caps.h) is filled in
// so tools, tool calls and tool results still reach the model.
#include <gtest/gtest.h>

#include "server/chat_prompt.h"

namespace ax::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

const char* kBody = R"({
  "messages": [
    {"role": "user", "content": "Weather in Oslo?"},
    {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
      "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "sunny"}],
  "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]})";

TemplateMessages messages_for(const ChatTemplateCaps& caps, const char* body = kBody) {
  const ordered_json raw = ordered_json::parse(body);
  return template_messages(parse_chat_request(json::parse(body)), raw, caps, /*with_tools=*/true);
}

TEST(ChatPrompt, CapableTemplateGetsTheFieldsAsSent) {
  TemplateMessages m = messages_for(ChatTemplateCaps{});
  ASSERT_EQ(m.messages.size(), 3u);
  EXPECT_TRUE(m.messages[1]["content"].is_null());
  EXPECT_EQ(m.messages[1]["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(m.messages[2]["role"], "tool");
  EXPECT_EQ(m.field(2), "messages[2]");
}

TEST(ChatPrompt, WhatATemplateCannotShowIsWrittenIntoTheMessages) {
  ChatTemplateCaps plain{.null_content = false, .tools = false, .tool_calls = false, .tool_role = false};
  TemplateMessages m = messages_for(plain);
  ASSERT_EQ(m.messages.size(), 4u);
  // The tools, in a system message put first.
  EXPECT_EQ(m.messages[0]["role"], "system");
  const std::string sys = m.messages[0]["content"];
  EXPECT_NE(sys.find("\"name\":\"get_weather\""), std::string::npos) << sys;
  EXPECT_NE(sys.find("<tool_call>"), std::string::npos);
  EXPECT_EQ(m.field(0), "tools");
  EXPECT_EQ(m.field(1), "messages[0]");
  // The call, as the model would have written it; the result, as a user message.
  EXPECT_FALSE(m.messages[2].contains("tool_calls"));
  EXPECT_EQ(m.messages[2]["content"], "<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}\n</tool_call>");
  EXPECT_EQ(m.messages[3]["role"], "user");
  EXPECT_EQ(m.messages[3]["content"], "<tool_response>\nsunny\n</tool_response>");
  // A system message already there gets the tools appended.
  TemplateMessages with_system = messages_for(
      plain, R"({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
                 "tools": [{"type": "function", "function": {"name": "f"}}]})");
  ASSERT_EQ(with_system.messages.size(), 2u);
  EXPECT_EQ(with_system.messages[0]["content"].get<std::string>().rfind("Be brief.\n\n# Tools", 0), 0u);
  EXPECT_EQ(with_system.field(1), "messages[1]");
}

}  // namespace
}  // namespace ax::server
