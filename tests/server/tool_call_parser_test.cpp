// Tool-call parsing from streamed text: any split of the text into chunks gives the same content
// and calls as the whole text at once.
#include <gtest/gtest.h>

#include <random>

#include <nlohmann/json.hpp>

#include "server/tool_call_parser.h"

namespace ax::server {
namespace {

ToolParseOutput run_chunked(const std::string& text, std::mt19937& rng) {
  ToolCallParser p;
  ToolParseOutput all;
  size_t i = 0;
  while (i < text.size()) {
    size_t n = 1 + rng() % 7;
    auto o = p.push(std::string_view(text).substr(i, n));
    all.content += o.content;
    for (auto& c : o.calls) all.calls.push_back(c);
    i += n;
  }
  auto o = p.finish();
  all.content += o.content;
  for (auto& c : o.calls) all.calls.push_back(c);
  return all;
}

TEST(ToolCallParser, ContentAndCallsUnderAnySplit) {
  uint32_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  const std::string text =
      "Let me check. <tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 3}}\n</tool_call>"
      "<tool_call>{\"name\":\"now\",\"arguments\":\"{\\\"tz\\\":\\\"UTC\\\"}\"}</tool_call> a < b <tool";
  for (int trial = 0; trial < 50; ++trial) {
    ToolParseOutput out = run_chunked(text, rng);
    EXPECT_EQ(out.content, "Let me check.  a < b <tool");
    ASSERT_EQ(out.calls.size(), 2u);
    EXPECT_EQ(out.calls[0].name, "get_weather");
    EXPECT_EQ(nlohmann::json::parse(out.calls[0].arguments), nlohmann::json({{"city", "Paris"}, {"days", 3}}));
    EXPECT_EQ(out.calls[1].name, "now");
    EXPECT_EQ(nlohmann::json::parse(out.calls[1].arguments), nlohmann::json({{"tz", "UTC"}}));
    EXPECT_NE(out.calls[0].id, out.calls[1].id);
    EXPECT_EQ(out.calls[0].id.rfind("call_", 0), 0u);
  }
}

TEST(ToolCallParser, BrokenCallsStayContent) {
  std::mt19937 rng(std::random_device{}());
  const std::string bad = "x<tool_call>{\"name\": 5}</tool_call>y";
  ToolParseOutput out = run_chunked(bad, rng);
  EXPECT_TRUE(out.calls.empty());
  EXPECT_EQ(out.content, bad);
  // An unclosed call at the end counts if its JSON is whole, else it is content.
  out = run_chunked("<tool_call>{\"name\":\"f\",\"arguments\":{}}", rng);
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.calls[0].arguments, "{}");
  out = run_chunked("<tool_call>{\"name\":\"f\",", rng);
  EXPECT_TRUE(out.calls.empty());
  EXPECT_EQ(out.content, "<tool_call>{\"name\":\"f\",");
}

}  // namespace
}  // namespace ax::server
