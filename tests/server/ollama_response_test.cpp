// Ollama reply pieces: times in RFC 3339 with nanoseconds, tool calls with object arguments, and
// the numbers of the last object in nanoseconds.
#include <gtest/gtest.h>

#include "server/ollama_response.h"

namespace ax::server {
namespace {

using nlohmann::json;

TEST(OllamaResponse, TimesAreUtcWithNanoseconds) {
  // 2024-05-01T12:00:00Z is 1714564800 s after the epoch.
  const auto t = std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::seconds(1714564800) + std::chrono::nanoseconds(123456789)));
  EXPECT_EQ(ollama_time(t), "2024-05-01T12:00:00.123456789Z");
  EXPECT_EQ(ollama_time(std::chrono::system_clock::time_point()), "1970-01-01T00:00:00.000000000Z");
}

TEST(OllamaResponse, ToolCallArgumentsAreObjects) {
  const json calls = ollama_tool_calls_json({{"call_1", "get_weather", R"({"city":"Paris","days":2})"},
                                             {"call_2", "now", "not json"}});
  EXPECT_EQ(calls, json::parse(R"([{"function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}},
                                    {"function": {"name": "now", "arguments": {}}}])"));
}

TEST(OllamaResponse, DoneFieldsInNanoseconds) {
  RequestMetrics m;
  m.prompt_tokens = 11;
  m.completion_tokens = 5;
  m.queue_s = 0.5;
  m.ttft_s = 1.5;
  m.total_s = 4;
  json j;
  add_ollama_done(j, "length", m, 4.25);
  EXPECT_EQ(j, json::parse(R"({"done": true, "done_reason": "length", "total_duration": 4250000000,
                               "load_duration": 0, "prompt_eval_count": 11, "prompt_eval_duration": 1000000000,
                               "eval_count": 5, "eval_duration": 2500000000})"));
  EXPECT_EQ(ndjson_line({{"a", "\xff"}}), "{\"a\":\"\xef\xbf\xbd\"}\n");  // invalid UTF-8 replaced
}

}  // namespace
}  // namespace ax::server
