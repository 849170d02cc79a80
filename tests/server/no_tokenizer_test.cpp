// A model folder without a tokenizer (every fixture of ../shared/fixtures) served over HTTP: the
// token-id route POST /v1/generate reproduces transformers' greedy tokens for each fixture, and
// every route that needs text answers a 400 that says the tokenizer is missing.
#include <gtest/gtest.h>

#include <csignal>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/golden_support.h"
#include "server/sse_client.h"
#include "server_process.h"
#include "test_support.h"

namespace ax::test {
namespace {

using nlohmann::json;

json post(httplib::Client& cli, const std::string& path, const json& body, int* status) {
  auto res = cli.Post(path.c_str(), body.dump(), "application/json");
  if (!res) return json{{"transport_error", true}};
  *status = res->status;
  return json::parse(res->body, nullptr, false);
}

// Every fixture with greedy references, one server each (f32 KV: the fixtures' tolerance).
class FixtureServer : public testing::TestWithParam<std::string> {};

TEST_P(FixtureServer, GenerateReproducesTransformersGreedyTokens) {
  std::signal(SIGPIPE, SIG_IGN);
  const std::string dir = fixture(GetParam());
  ServerProcess server(dir, {"--kv-type", "f32"});
  auto cli = server.client();
  Reference ref = open_reference(dir + "/reference.safetensors");
  for (int i = 0; i < 3; ++i) {
    const std::vector<int32_t> prompt = ref.ints("input_ids." + std::to_string(i));
    const std::vector<int32_t> greedy = ref.ints("greedy." + std::to_string(i));
    int status = 0;
    json r = post(cli, "/v1/generate",
                  {{"input_tokens", prompt},
                   {"max_output_tokens", greedy.size()},
                   {"ignore_eos", true},
                   {"sampling", {{"temperature", 0}}}},
                  &status);
    ASSERT_EQ(status, 200) << r.dump();
    EXPECT_EQ(r["output_tokens"].get<std::vector<int32_t>>(), greedy) << GetParam() << " prompt " << i;
    EXPECT_TRUE(r["output_text"].is_null()) << r.dump();
    EXPECT_EQ(r["usage"]["prompt_tokens"], prompt.size());
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureServer,
                         testing::Values("llama", "llama3_rope", "qwen2", "qwen3", "mistral", "phi3", "gemma2",
                                         "gemma3_text", "gemma4_text", "gemma4_text_moe", "qwen3_moe", "glm4_moe",
                                         "gpt_oss", "deepseek_v3", "glm4_moe_lite", "qwen3_next", "qwen3_5_text",
                                         "qwen3_5_moe_text"));

TEST(NoTokenizerServer, TextRoutesSayTheTokenizerIsMissing) {
  std::signal(SIGPIPE, SIG_IGN);
  ServerProcess server(fixture("qwen3"));
  auto cli = server.client();

  const json messages = json::array({{{"role", "user"}, {"content", "hi"}}});
  const std::vector<std::pair<std::string, json>> text_routes = {
      {"/v1/chat/completions", {{"messages", messages}, {"max_tokens", 4}}},
      {"/v1/completions", {{"prompt", "hello"}, {"max_tokens", 4}}},
      {"/v1/embeddings", {{"input", "hello"}}},
      {"/tokenize", {{"content", "hello"}}},
      {"/detokenize", {{"tokens", {1, 2, 3}}}},
      {"/apply-template", {{"messages", messages}}},
      {"/v1/generate", {{"input_text", "hello"}, {"max_output_tokens", 4}}},
      {"/v1/generate", {{"messages", messages}, {"max_output_tokens", 4}}},
  };
  for (const auto& [path, body] : text_routes) {
    int status = 0;
    json r = post(cli, path, body, &status);
    EXPECT_EQ(status, 400) << path << ": " << r.dump();
    EXPECT_EQ(r["error"]["code"], "tokenizer_missing") << path << ": " << r.dump();
    EXPECT_NE(r["error"]["message"].get<std::string>().find("no tokenizer"), std::string::npos) << r.dump();
  }

  // Stop strings need text; stop_token_ids do not.
  int status = 0;
  json r = post(cli, "/v1/generate", {{"input_tokens", {1, 2, 3}}, {"max_output_tokens", 4}, {"stop", "x"}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(r["error"]["param"], "stop") << r.dump();
  r = post(cli, "/v1/generate",
           {{"input_tokens", {1, 2, 3}}, {"max_output_tokens", 4}, {"ignore_eos", true}, {"stop_token_ids", {7}}},
           &status);
  EXPECT_EQ(status, 200) << r.dump();

  // Streamed events carry token ids and a null text.
  server::SseResult s = server::post_sse(cli, "/v1/generate/stream",
                                         {{"input_tokens", {1, 2, 3}}, {"max_output_tokens", 5}, {"ignore_eos", true}});
  ASSERT_EQ(s.status, 200);
  EXPECT_TRUE(s.done);
  int64_t streamed = 0;
  for (const json& e : s.events) {
    EXPECT_TRUE(e["text"].is_null()) << e.dump();
    streamed += static_cast<int64_t>(e["tokens"].size());
  }
  EXPECT_EQ(streamed, 5);

  auto info = cli.Get("/info");
  ASSERT_TRUE(info);
  EXPECT_EQ(json::parse(info->body)["model"]["tokenizer"], "none") << info->body;
}

}  // namespace
}  // namespace ax::test
