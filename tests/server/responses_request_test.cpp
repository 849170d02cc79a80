// OpenAI Responses bodies translated to the chat shape: string and item input, instructions,
// function tools and their outputs, text.format, reasoning, and errors naming the field.
#include <gtest/gtest.h>

#include "api_error_support.h"
#include "server/responses_request.h"

namespace ax::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

ResponsesRequest parse(const json& body, const ordered_json& history = ordered_json::array()) {
  return parse_responses_request(body, ordered_json::parse(body.dump()), history);
}

std::string error_of(const json& body) {
  return test::bad_request_of([&] { parse(body); });
}

TEST(ResponsesRequest, StringInputAndInstructions) {
  ResponsesRequest r = parse({{"input", "Hello"}, {"instructions", "Be brief."}, {"max_output_tokens", 20},
                              {"temperature", 0.2}, {"store", false}, {"stream", true}});
  EXPECT_EQ(r.chat_body["messages"], ordered_json::parse(R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Hello"}])"));
  // The conversation kept for follow-ups has no instructions.
  EXPECT_EQ(r.conversation, ordered_json::parse(R"([{"role":"user","content":"Hello"}])"));
  EXPECT_EQ(*r.chat.gen.max_tokens, 20);
  EXPECT_FALSE(r.store);
  EXPECT_TRUE(r.stream);
  EXPECT_EQ(r.echo["instructions"], "Be brief.");
  EXPECT_EQ(r.echo["max_output_tokens"], 20);
}

TEST(ResponsesRequest, ItemsToolsFormatAndHistory) {
  const ordered_json history = ordered_json::parse(R"([{"role":"user","content":"Earlier"},{"role":"assistant","content":"Yes"}])");
  ResponsesRequest r = parse(
      {{"input",
        {{{"role", "user"}, {"content", {{{"type", "input_text"}, {"text", "Weather?"}}}}},
         {{"type", "reasoning"}, {"id", "rs_1"}, {"summary", json::array()}, {"content", {{{"type", "reasoning_text"}, {"text", "Use the tool."}}}}},
         {{"type", "message"}, {"role", "assistant"}, {"content", {{{"type", "output_text"}, {"text", "Checking."}}}}},
         {{"type", "function_call"}, {"call_id", "call_1"}, {"name", "weather"}, {"arguments", "{\"city\":\"Paris\"}"}},
         {{"type", "function_call_output"}, {"call_id", "call_1"}, {"output", "18C"}}}},
       {"tools", {{{"type", "function"}, {"name", "weather"}, {"parameters", {{"type", "object"}}}}}},
       {"tool_choice", {{"type", "function"}, {"name", "weather"}}},
       {"reasoning", {{"effort", "low"}}}},
      history);
  const ordered_json& m = r.chat_body["messages"];
  ASSERT_EQ(m.size(), 5u) << m.dump();
  EXPECT_EQ(m[0]["content"], "Earlier");
  EXPECT_EQ(m[2], ordered_json({{"role", "user"}, {"content", "Weather?"}}));
  EXPECT_EQ(m[3]["content"], "Checking.");
  EXPECT_EQ(m[3]["reasoning_content"], "Use the tool.");
  EXPECT_EQ(m[3]["tool_calls"][0]["function"]["name"], "weather");
  EXPECT_EQ(m[4], ordered_json({{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "18C"}}));
  EXPECT_EQ(r.chat.tool_choice.mode, ToolChoice::Mode::Named);
  EXPECT_EQ(r.thinking.effort, "low");
  EXPECT_EQ(r.conversation.size(), 5u);

  r = parse({{"input", "x"}, {"text", {{"format", {{"type", "json_schema"}, {"name", "o"}, {"schema", {{"type", "object"}}}}}}}});
  EXPECT_EQ(r.chat.gen.response_format.kind, ResponseFormat::Kind::JsonSchema);
  EXPECT_EQ(r.chat.gen.response_format.schema, json({{"type", "object"}}));
  r = parse({{"input", "x"}, {"reasoning", {{"effort", "none"}}}});
  EXPECT_EQ(r.thinking.enabled, false);
}

TEST(ResponsesRequest, ErrorsNameTheField) {
  EXPECT_EQ(error_of(json::object()), "input: 'input' is required");
  EXPECT_EQ(error_of({{"input", 5}}), "input: 'input' must be a string or an array of input items, got number");
  EXPECT_EQ(error_of({{"input", {{{"type", "item_reference"}, {"id", "x"}}}}}).substr(0, 15), "input[0].type: ");
  EXPECT_EQ(error_of({{"input", {{{"role", "user"}, {"content", {{{"type", "input_image"}, {"image_url", "u"}}}}}}}}),
            "input[0].content[0].type: 'input[0].content[0].type' 'input_image' is not supported: this server runs "
            "text-only models");
  EXPECT_EQ(error_of({{"input", {{{"type", "function_call_output"}, {"output", "x"}}}}}),
            "input[0].call_id: 'input[0].call_id' is required");
  EXPECT_EQ(error_of({{"input", "x"}, {"tools", {{{"type", "web_search"}}}}}).substr(0, 14), "tools[0].type:");
  EXPECT_EQ(error_of({{"input", "x"}, {"max_output_tokens", 0}}),
            "max_output_tokens: 'max_output_tokens' must be in [1, 1073741824], got 0");
  EXPECT_EQ(error_of({{"input", "x"}, {"reasoning", {{"effort", "extreme"}}}}),
            "reasoning.effort: 'reasoning.effort' must be 'none', 'minimal', 'low', 'medium' or 'high', got 'extreme'");
  EXPECT_EQ(error_of({{"input", "x"}, {"text", {{"format", {{"type", "json_schema"}}}}}}),
            "text.format.schema: 'text.format.schema' is required");
  EXPECT_EQ(error_of({{"input", "x"}, {"background", true}}),
            "background: 'background' is not supported: responses run while the request is open");
}

}  // namespace
}  // namespace ax::server
