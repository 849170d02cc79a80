// POST /v1/messages and /v1/messages/count_tokens over real HTTP with the bundled ax-code-15m:
// the message shape, the exact streamed event order, tool round trips, stop sequences, errors in
// Anthropic's shape, x-api-key, and a client hanging up mid-stream.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_helpers.h"
#include "server/sse_client.h"
#include "shared_server.h"
#include "test_support.h"

namespace ax::test {
namespace {

using nlohmann::json;

std::string code_model() { return source_dir() + "/models/ax-code-15m"; }

class MessagesServer : public SharedServer<MessagesServer> {
 public:
  static std::string model() { return code_model(); }
  static std::vector<std::string> flags() { return {}; }
};

const json kWeatherTool = {{"name", "get_weather"},
                           {"description", "The weather in a city"},
                           {"input_schema",
                            {{"type", "object"},
                             {"properties", {{"city", {{"type", "string"}, {"maxLength", 12}}}}},
                             {"required", {"city"}}}}};

json user_text(const std::string& text) { return {{"role", "user"}, {"content", text}}; }

// The names of a stream's events, in order, with consecutive deltas of one block folded into one.
std::vector<std::string> event_outline(const std::vector<TypedEvent>& events) {
  std::vector<std::string> out;
  for (const TypedEvent& e : events) {
    std::string name = e.name;
    if (name == "content_block_delta") name += ":" + e.data["delta"]["type"].get<std::string>();
    if (name == "content_block_start") name += ":" + e.data["content_block"]["type"].get<std::string>();
    if (!out.empty() && out.back() == name && name.rfind("content_block_delta", 0) == 0) continue;
    out.push_back(name);
  }
  return out;
}

TEST_F(MessagesServer, BlockingMessageShapeAndUsage) {
  auto cli = server_->client();
  const json body = {{"model", "ax-code-15m"}, {"max_tokens", 12}, {"system", "Python only."},
                     {"messages", {user_text("def fib(n):")}}};
  int status = 0;
  json m = post_json(cli, "/v1/messages", body, &status);
  ASSERT_EQ(status, 200) << m.dump();
  EXPECT_EQ(m["type"], "message");
  EXPECT_EQ(m["role"], "assistant");
  EXPECT_EQ(m["model"], "ax-code-15m");
  EXPECT_EQ(m["id"].get<std::string>().rfind("msg_", 0), 0u);
  ASSERT_EQ(m["content"].size(), 1u) << m.dump();
  EXPECT_EQ(m["content"][0]["type"], "text");
  EXPECT_TRUE(m["stop_reason"] == "end_turn" || m["stop_reason"] == "max_tokens") << m.dump();
  EXPECT_TRUE(m["stop_sequence"].is_null());
  EXPECT_GE(m["usage"]["output_tokens"].get<int>(), 1);
  EXPECT_LE(m["usage"]["output_tokens"].get<int>(), 12);
  // count_tokens counts the same prompt the reply was generated from.
  json count = post_json(cli, "/v1/messages/count_tokens", body, &status);
  ASSERT_EQ(status, 200) << count.dump();
  EXPECT_EQ(count["input_tokens"], m["usage"]["input_tokens"]);
  EXPECT_GT(count["input_tokens"].get<int>(), 5);
}

TEST_F(MessagesServer, StreamEventOrderIsAnthropicsAndEqualsBlocking) {
  auto cli = server_->client();
  json body = {{"max_tokens", 16}, {"temperature", 0}, {"messages", {user_text("import os\n")}}};
  json blocking = post_json(cli, "/v1/messages", body);
  body["stream"] = true;
  auto [status, raw] = post_stream(cli, "/v1/messages", body);
  ASSERT_EQ(status, 200) << raw;
  std::vector<TypedEvent> events = typed_events(raw);
  for (const TypedEvent& e : events) EXPECT_EQ(e.name, e.data["type"]) << raw;  // every event names its type twice
  EXPECT_EQ(event_outline(events),
            (std::vector<std::string>{"message_start", "ping", "content_block_start:text", "content_block_delta:text_delta",
                                      "content_block_stop", "message_delta", "message_stop"}))
      << raw;
  std::string text;
  for (const TypedEvent& e : events)
    if (e.name == "content_block_delta") {
      EXPECT_EQ(e.data["index"], 0);
      text += e.data["delta"]["text"].get<std::string>();
    }
  EXPECT_EQ(text, blocking["content"][0]["text"]);
  const json& start = events.front().data["message"];
  EXPECT_EQ(start["content"], json::array());
  EXPECT_TRUE(start["stop_reason"].is_null());
  EXPECT_EQ(start["usage"]["input_tokens"], blocking["usage"]["input_tokens"]);
  const json& delta = events[events.size() - 2].data;
  EXPECT_EQ(delta["delta"]["stop_reason"], blocking["stop_reason"]);
  EXPECT_EQ(delta["usage"]["output_tokens"], blocking["usage"]["output_tokens"]);
  EXPECT_EQ(raw.find("[DONE]"), std::string::npos);
}

TEST_F(MessagesServer, ToolUseRoundTrip) {
  auto cli = server_->client();
  json body = {{"max_tokens", 60}, {"temperature", 0}, {"tools", {kWeatherTool}},
               {"tool_choice", {{"type", "tool"}, {"name", "get_weather"}}},
               {"messages", {user_text("What is the weather in Paris?")}}};
  int status = 0;
  json m = post_json(cli, "/v1/messages", body, &status);
  ASSERT_EQ(status, 200) << m.dump();
  EXPECT_EQ(m["stop_reason"], "tool_use") << m.dump();
  ASSERT_FALSE(m["content"].empty());
  const json& use = m["content"].back();
  ASSERT_EQ(use["type"], "tool_use") << m.dump();
  EXPECT_EQ(use["name"], "get_weather");
  EXPECT_EQ(use["id"].get<std::string>().rfind("toolu_", 0), 0u);
  ASSERT_TRUE(use["input"].is_object());
  EXPECT_TRUE(use["input"]["city"].is_string()) << use.dump();

  // Streamed: the tool_use block's input arrives as input_json_delta and parses to the same input.
  body["stream"] = true;
  auto [sstatus, raw] = post_stream(cli, "/v1/messages", body);
  ASSERT_EQ(sstatus, 200);
  std::vector<TypedEvent> events = typed_events(raw);
  std::vector<std::string> outline = event_outline(events);
  EXPECT_NE(std::find(outline.begin(), outline.end(), "content_block_start:tool_use"), outline.end()) << raw;
  std::string partial;
  for (const TypedEvent& e : events)
    if (e.name == "content_block_delta" && e.data["delta"]["type"] == "input_json_delta")
      partial += e.data["delta"]["partial_json"].get<std::string>();
  EXPECT_EQ(json::parse(partial), use["input"]);
  EXPECT_EQ(events[events.size() - 2].data["delta"]["stop_reason"], "tool_use");

  // The result goes back as a tool_result block; the model answers with text.
  json follow = {{"max_tokens", 8},
                 {"tools", {kWeatherTool}},
                 {"messages",
                  {user_text("What is the weather in Paris?"),
                   {{"role", "assistant"}, {"content", m["content"]}},
                   {{"role", "user"},
                    {"content", {{{"type", "tool_result"}, {"tool_use_id", use["id"]}, {"content", "18C and sunny"}}}}}}}};
  json reply = post_json(cli, "/v1/messages", follow, &status);
  ASSERT_EQ(status, 200) << reply.dump();
  EXPECT_EQ(reply["type"], "message");
  // The tool result is in the prompt: it is longer than without it.
  json without = follow;
  without["messages"][2]["content"][0]["content"] = "";
  EXPECT_GT(post_json(cli, "/v1/messages/count_tokens", follow)["input_tokens"].get<int>(),
            post_json(cli, "/v1/messages/count_tokens", without)["input_tokens"].get<int>());
}

TEST_F(MessagesServer, StopSequenceEndsTheTextAndIsReported) {
  auto cli = server_->client();
  json body = {{"max_tokens", 24}, {"temperature", 0}, {"messages", {user_text("class Stack:\n")}}};
  json free = post_json(cli, "/v1/messages", body);
  const std::string text = free["content"][0]["text"];
  ASSERT_GE(text.size(), 8u) << free.dump();
  const std::string stop = text.substr(4, 3);
  body["stop_sequences"] = {stop};
  json cut = post_json(cli, "/v1/messages", body);
  EXPECT_EQ(cut["stop_reason"], "stop_sequence") << cut.dump();
  EXPECT_EQ(cut["stop_sequence"], stop);
  EXPECT_EQ(cut["content"].empty() ? std::string() : cut["content"][0]["text"].get<std::string>(), text.substr(0, text.find(stop)));
}

TEST_F(MessagesServer, ErrorsTakeAnthropicsShape) {
  auto cli = server_->client();
  int status = 0;
  json e = post_json(cli, "/v1/messages", {{"messages", {user_text("x")}}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(e, json({{"type", "error"}, {"error", {{"type", "invalid_request_error"}, {"message", "'max_tokens' is required"}}}}));
  e = post_json(cli, "/v1/messages", {{"model", "claude-nonexistent"}, {"max_tokens", 4}, {"messages", {user_text("x")}}}, &status);
  EXPECT_EQ(status, 404);
  EXPECT_EQ(e["error"]["type"], "not_found_error") << e.dump();
  auto res = cli.Post("/v1/messages", "{not json", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(json::parse(res->body)["type"], "error");
  e = post_json(cli, "/v1/messages/count_tokens", {{"messages", {{{"role", "user"}, {"content", 5}}}}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(e["error"]["message"], "'messages[0].content' must be an array, got number");
  // The OpenAI routes keep OpenAI's shape.
  e = post_json(cli, "/v1/chat/completions", {{"max_tokens", 4}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_TRUE(e["error"].contains("param")) << e.dump();
}

TEST_F(MessagesServer, ThinkingBudgetNeedsAThinkingTemplate) {
  auto cli = server_->client();
  int status = 0;
  json e = post_json(cli, "/v1/messages",
                     {{"max_tokens", 10}, {"messages", {user_text("x")}}, {"thinking", {{"type", "enabled"}, {"budget_tokens", 3}}}},
                     &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(e["error"]["message"], "'thinking.budget_tokens' needs a model whose chat template thinks; this one does not");
}

TEST_F(MessagesServer, ClientHangingUpCancelsTheStream) {
  auto cli = server_->client();
  const double cancelled_before = metric(cli, "ax_requests_cancelled_total");
  int seen = 0;
  // 1500 tokens take far longer than the three events the client waits for.
  server::SseResult s = server::post_sse(cli, "/v1/messages",
                                         {{"max_tokens", 1500}, {"stream", true},
                                          {"messages", {user_text("Write a very long Python module.")}}},
                                         [&](const json& e) { return e["type"] == "message_start" || ++seen < 3; });
  EXPECT_TRUE(s.hung_up);
  // The server notices on its next write or poll of the connection.
  EXPECT_TRUE(metric_rises_above(cli, "ax_requests_cancelled_total", cancelled_before));
  EXPECT_TRUE(engine_drains(cli)) << "KV blocks still in use after the client hung up";
}

TEST(MessagesAuth, XApiKeyIsAcceptedAndA401IsAnthropicShaped) {
  std::signal(SIGPIPE, SIG_IGN);
  ServerProcess server(code_model(), {"--api-key", "sekret"});
  auto cli = server.client();
  const json body = {{"max_tokens", 2}, {"messages", {user_text("x")}}};
  int status = 0;
  json e = post_json(cli, "/v1/messages", body, &status);
  EXPECT_EQ(status, 401);
  EXPECT_EQ(e["type"], "error");
  EXPECT_EQ(e["error"]["type"], "authentication_error") << e.dump();
  e = post_json(cli, "/v1/messages", body, &status, {{"x-api-key", "wrong"}});
  EXPECT_EQ(status, 401);
  post_json(cli, "/v1/messages", body, &status, {{"x-api-key", "sekret"}});
  EXPECT_EQ(status, 200);
  post_json(cli, "/v1/messages/count_tokens", body, &status, {{"x-api-key", "sekret"}});
  EXPECT_EQ(status, 200);
  // Either header works on every route.
  post_json(cli, "/tokenize", {{"content", "x"}}, &status, {{"x-api-key", "sekret"}});
  EXPECT_EQ(status, 200);
  post_json(cli, "/v1/messages", body, &status, {{"Authorization", "Bearer sekret"}});
  EXPECT_EQ(status, 200);
}

}  // namespace
}  // namespace ax::test
