// A model whose template thinks (thinking_model.h): the thought is split from the answer in chat
// completions (reasoning_content, streamed as its own deltas), Messages (thinking blocks) and
// Responses (reasoning items); the thinking budget closes the thought and the answer still comes;
// thinking turned off leaves no thought.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_helpers.h"
#include "shared_server.h"
#include "thinking_model.h"

namespace ax::test {
namespace {

using nlohmann::json;

class ThinkingServer : public SharedServer<ThinkingServer> {
 public:
  static std::string model() { return thinking_model(); }
  static std::vector<std::string> flags() { return {}; }
};

const json kHi = json::array({{{"role", "user"}, {"content", "hi"}}});

TEST_F(ThinkingServer, ChatSplitsTheThoughtStreamedAndNot) {
  auto cli = server_->client();
  json body = {{"messages", kHi}, {"max_tokens", 20}, {"temperature", 0}};
  int status = 0;
  json r = post_json(cli, "/v1/chat/completions", body, &status);
  ASSERT_EQ(status, 200) << r.dump();
  const json& msg = r["choices"][0]["message"];
  // The template opened "<think>" and the tiny model never closes it: all of it is thought.
  ASSERT_TRUE(msg.contains("reasoning_content")) << r.dump();
  EXPECT_EQ(msg["content"], "");
  EXPECT_EQ(msg["reasoning_content"].get<std::string>().find("<think>"), std::string::npos);
  body["stream"] = true;
  auto [sstatus, raw] = post_stream(cli, "/v1/chat/completions", body);
  ASSERT_EQ(sstatus, 200);
  std::string thought, content;
  for (const TypedEvent& e : typed_events(raw)) {
    if (!e.data.is_object() || e.data["choices"].empty()) continue;
    const json& d = e.data["choices"][0]["delta"];
    if (d.contains("reasoning_content")) thought += d["reasoning_content"].get<std::string>();
    if (d.contains("content")) content += d["content"].get<std::string>();
  }
  EXPECT_EQ(thought, msg["reasoning_content"]);
  EXPECT_EQ(content, "");
}

TEST_F(ThinkingServer, BudgetClosesTheThoughtAndTheAnswerComes) {
  auto cli = server_->client();
  int status = 0;
  json m = post_json(cli, "/v1/messages",
                     {{"messages", kHi}, {"max_tokens", 30}, {"temperature", 0},
                      {"thinking", {{"type", "enabled"}, {"budget_tokens", 8}}}},
                     &status);
  ASSERT_EQ(status, 200) << m.dump();
  ASSERT_EQ(m["content"].size(), 2u) << m.dump();
  EXPECT_EQ(m["content"][0]["type"], "thinking");
  EXPECT_EQ(m["content"][1]["type"], "text");
  EXPECT_FALSE(m["content"][1]["text"].get<std::string>().empty());
  // The thought is the first 8 tokens: shorter than 8 tokens' worth of the unbounded thought.
  json unbounded = post_json(cli, "/v1/chat/completions", {{"messages", kHi}, {"max_tokens", 8}, {"temperature", 0}});
  EXPECT_EQ(m["content"][0]["thinking"].get<std::string>().substr(0, 10),
            unbounded["choices"][0]["message"]["reasoning_content"].get<std::string>().substr(0, 10));

  // Streamed: a thinking block (with its signature delta), then a text block.
  auto [sstatus, raw] = post_stream(cli, "/v1/messages",
                                    {{"messages", kHi}, {"max_tokens", 30}, {"temperature", 0}, {"stream", true},
                                     {"thinking", {{"type", "enabled"}, {"budget_tokens", 8}}}});
  std::vector<std::string> names;
  std::string thought, text;
  for (const TypedEvent& e : typed_events(raw)) {
    std::string n = e.name;
    if (n == "content_block_start") n += ":" + e.data["content_block"]["type"].get<std::string>();
    if (n == "content_block_delta") {
      n += ":" + e.data["delta"]["type"].get<std::string>();
      if (e.data["delta"]["type"] == "thinking_delta") thought += e.data["delta"]["thinking"].get<std::string>();
      if (e.data["delta"]["type"] == "text_delta") text += e.data["delta"]["text"].get<std::string>();
    }
    if (names.empty() || names.back() != n) names.push_back(n);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"message_start", "ping", "content_block_start:thinking",
                                             "content_block_delta:thinking_delta", "content_block_delta:signature_delta",
                                             "content_block_stop", "content_block_start:text",
                                             "content_block_delta:text_delta", "content_block_stop", "message_delta",
                                             "message_stop"}))
      << raw;
  EXPECT_EQ(thought, m["content"][0]["thinking"]);
  EXPECT_EQ(text, m["content"][1]["text"]);
}

// vLLM's thinking_token_budget on chat completions: the thought stops at the budget and the
// answer follows; 0 closes the thought before it starts; a bad value is a 400 naming the field.
TEST_F(ThinkingServer, ChatThinkingTokenBudget) {
  auto cli = server_->client();
  int status = 0;
  json r = post_json(cli, "/v1/chat/completions",
                     {{"messages", kHi}, {"max_tokens", 30}, {"temperature", 0}, {"thinking_token_budget", 8}}, &status);
  ASSERT_EQ(status, 200) << r.dump();
  const json& msg = r["choices"][0]["message"];
  ASSERT_TRUE(msg.contains("reasoning_content")) << r.dump();
  EXPECT_FALSE(msg["reasoning_content"].get<std::string>().empty());
  EXPECT_FALSE(msg["content"].get<std::string>().empty()) << r.dump();
  // The 8 thought tokens and the closing text ("\n</think>\n\n", a few tokens) are the thought.
  const int64_t thought_tokens = r["usage"]["completion_tokens_details"]["reasoning_tokens"].get<int64_t>();
  EXPECT_GE(thought_tokens, 8) << r.dump();
  EXPECT_LE(thought_tokens, 8 + 8) << r.dump();
  json unbounded = post_json(cli, "/v1/chat/completions", {{"messages", kHi}, {"max_tokens", 30}, {"temperature", 0}});
  EXPECT_EQ(unbounded["choices"][0]["message"]["content"], "");
  json zero = post_json(cli, "/v1/chat/completions",
                        {{"messages", kHi}, {"max_tokens", 20}, {"temperature", 0}, {"thinking_token_budget", 0}}, &status);
  ASSERT_EQ(status, 200) << zero.dump();
  EXPECT_FALSE(zero["choices"][0]["message"]["content"].get<std::string>().empty()) << zero.dump();
  json bad = post_json(cli, "/v1/chat/completions",
                       {{"messages", kHi}, {"max_tokens", 5}, {"thinking_token_budget", -1}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(bad["error"]["param"], "thinking_token_budget") << bad.dump();
}

TEST_F(ThinkingServer, ThinkingOffLeavesNoThought) {
  auto cli = server_->client();
  json m = post_json(cli, "/v1/messages",
                     {{"messages", kHi}, {"max_tokens", 10}, {"temperature", 0}, {"thinking", {{"type", "disabled"}}}});
  for (const json& b : m["content"]) EXPECT_NE(b["type"], "thinking") << m.dump();
  json r = post_json(cli, "/v1/responses", {{"input", "hi"}, {"max_output_tokens", 10}, {"temperature", 0}, {"reasoning", {{"effort", "none"}}}});
  for (const json& item : r["output"]) EXPECT_NE(item["type"], "reasoning") << r.dump();
  json c = post_json(cli, "/v1/chat/completions",
                     {{"messages", kHi}, {"max_tokens", 10}, {"temperature", 0}, {"chat_template_kwargs", {{"enable_thinking", false}}}});
  EXPECT_FALSE(c["choices"][0]["message"].contains("reasoning_content")) << c.dump();
}

// Thinking off holds whatever the model writes: asked to, this model spells "<think>" out (in
// several tokens, past the bias on the one-token tag); that is answer text, not a thought.
TEST_F(ThinkingServer, ThinkingOffHoldsWhenTheModelWritesTheTag) {
  auto cli = server_->client();
  std::string think20;
  for (int i = 0; i < 20; ++i) think20 += "<think>";
  const json msgs = json::array({{{"role", "user"}, {"content", think20}}});
  int status = 0;
  json off = post_json(cli, "/v1/chat/completions",
                       {{"messages", msgs}, {"max_tokens", 12}, {"temperature", 0}, {"reasoning_effort", "none"}}, &status);
  ASSERT_EQ(status, 200) << off.dump();
  const json& msg = off["choices"][0]["message"];
  EXPECT_FALSE(msg.contains("reasoning_content")) << off.dump();
  EXPECT_NE(msg["content"].get<std::string>().find("<think>"), std::string::npos) << off.dump();
  EXPECT_EQ(off["usage"]["completion_tokens_details"]["reasoning_tokens"], 0) << off.dump();
}

TEST_F(ThinkingServer, ResponsesReasoningItem) {
  auto cli = server_->client();
  int status = 0;
  json r = post_json(cli, "/v1/responses", {{"input", "hi"}, {"max_output_tokens", 12}, {"reasoning", {{"effort", "high"}}}},
                     &status);
  ASSERT_EQ(status, 200) << r.dump();
  ASSERT_FALSE(r["output"].empty());
  EXPECT_EQ(r["output"][0]["type"], "reasoning");
  EXPECT_EQ(r["output"][0]["content"][0]["type"], "reasoning_text");
  EXPECT_GT(r["usage"]["output_tokens_details"]["reasoning_tokens"].get<int>(), 0);
  EXPECT_EQ(r["reasoning"]["effort"], "high");
  auto [sstatus, raw] = post_stream(cli, "/v1/responses", {{"input", "hi"}, {"max_output_tokens", 12}, {"stream", true}});
  bool reasoning_delta = false;
  for (const TypedEvent& e : typed_events(raw)) reasoning_delta |= e.name == "response.reasoning_text.delta";
  EXPECT_TRUE(reasoning_delta) << raw;
}

TEST_F(ThinkingServer, BudgetIsServedWithAThinkingTemplate) {
  // The budget on the non-thinking model is a 400 naming the field (MessagesServer has no thinking
  // template); here the same request is served.
  auto cli = server_->client();
  int status = 0;
  post_json(cli, "/v1/messages", {{"messages", kHi}, {"max_tokens", 10}, {"thinking", {{"type", "enabled"}, {"budget_tokens", 3}}}},
            &status);
  EXPECT_EQ(status, 200);
}

}  // namespace
}  // namespace ax::test
