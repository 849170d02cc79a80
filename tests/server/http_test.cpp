// The server over real HTTP on loopback with the bundled tiny models: every endpoint, every error
// path, streaming vs blocking, disconnect-cancel, start-up and shutdown.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "server/sse_client.h"
#include "http_helpers.h"
#include "server_process.h"
#include "shared_server.h"
#include "test_support.h"

namespace ax::test {
namespace {

using server::post_sse;
using server::SseResult;

using nlohmann::json;

std::string stories_model() { return source_dir() + "/models/stories260K/stories260K.gguf"; }
std::string code_model() { return source_dir() + "/models/ax-code-15m"; }

class StoriesServer : public SharedServer<StoriesServer> {
 public:
  static std::string model() { return stories_model(); }
  static std::vector<std::string> flags() { return {"--max-body-size", "100000"}; }
};

TEST_F(StoriesServer, HealthAndModels) {
  auto cli = server_->client();
  auto h = cli.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(json::parse(h->body)["status"], "ok");
  auto m = cli.Get("/v1/models");
  ASSERT_TRUE(m);
  json models = json::parse(m->body);
  EXPECT_EQ(models["object"], "list");
  ASSERT_EQ(models["data"].size(), 1u);
  EXPECT_EQ(models["data"][0]["id"], "stories260K");
  EXPECT_EQ(cli.Get("/v1/models/stories260K")->status, 200);
  EXPECT_EQ(cli.Get("/v1/models/other")->status, 404);
}

TEST_F(StoriesServer, TokenizeDetokenizeRoundTrip) {
  auto cli = server_->client();
  std::mt19937 rng(std::random_device{}());
  const char* words[] = {"Once", "upon", "a", "time", "there", "was", "a", "little", "dog", "named", "Tim"};
  std::string text;
  for (int i = 0; i < 12; ++i) text += std::string(i ? " " : "") + words[rng() % std::size(words)];
  SCOPED_TRACE(text);
  json t = post_json(cli, "/tokenize", {{"prompt", text}, {"add_special", false}});
  ASSERT_TRUE(t["tokens"].is_array());
  EXPECT_EQ(t["count"], t["tokens"].size());
  json d = post_json(cli, "/detokenize", {{"tokens", t["tokens"]}});
  EXPECT_EQ(d["prompt"], text);
  int status = 0;
  json bad = post_json(cli, "/detokenize", {{"tokens", {1, 999999}}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(bad["error"]["param"], "tokens[1]");
}

TEST_F(StoriesServer, CompletionBlockingShapeAndUsage) {
  auto cli = server_->client();
  const int max_tokens = 5 + std::random_device{}() % 20;
  json r = post_json(cli, "/v1/completions",
                     {{"prompt", "Once upon a time"}, {"max_tokens", max_tokens}, {"ignore_eos", true}, {"n", 2},
                      {"logprobs", 2}});
  ASSERT_TRUE(r.contains("choices")) << r.dump();
  EXPECT_EQ(r["object"], "text_completion");
  EXPECT_EQ(r["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  ASSERT_EQ(r["choices"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const json& c = r["choices"][i];
    EXPECT_EQ(c["index"], i);
    EXPECT_EQ(c["finish_reason"], "length");
    EXPECT_EQ(c["logprobs"]["tokens"].size(), static_cast<size_t>(max_tokens));
    for (auto& top : c["logprobs"]["top_logprobs"]) EXPECT_LE(top.size(), 2u);
    for (auto& lp : c["logprobs"]["token_logprobs"]) EXPECT_LE(lp.get<double>(), 0.0);
  }
  json tok = post_json(cli, "/tokenize", {{"prompt", "Once upon a time"}});
  EXPECT_EQ(r["usage"]["prompt_tokens"], tok["count"]);
  EXPECT_EQ(r["usage"]["completion_tokens"], 2 * max_tokens);
  EXPECT_EQ(r["usage"]["total_tokens"], r["usage"]["prompt_tokens"].get<int>() + 2 * max_tokens);
  EXPECT_TRUE(r["usage"]["prompt_tokens_details"]["cached_tokens"].is_number());
}

TEST_F(StoriesServer, StreamedTokensEqualBlockingTokens) {
  auto cli = server_->client();
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  json body = {{"input_text", "Once upon a time"}, {"max_output_tokens", 40},
               {"sampling", {{"temperature", 0.9}, {"top_p", 0.95}, {"seed", seed}}}};
  json blocking = post_json(cli, "/v1/generate", body);
  ASSERT_TRUE(blocking["output_tokens"].is_array()) << blocking.dump();
  SseResult s = post_sse(cli, "/v1/generate/stream", body);
  ASSERT_EQ(s.status, 200);
  ASSERT_TRUE(s.done);
  ASSERT_FALSE(s.malformed);
  std::vector<int> streamed;
  std::string text;
  for (auto& e : s.events) {
    for (auto& t : e["tokens"]) streamed.push_back(t);
    text += e["text"].get<std::string>();
  }
  EXPECT_EQ(json(streamed), blocking["output_tokens"]);
  EXPECT_EQ(text, blocking["output_text"]);
  EXPECT_EQ(s.events.back()["finish_reason"], blocking["finish_reason"]);

  // The OpenAI route too: streamed text deltas add up to the blocking text.
  json cbody = {{"prompt", "Tim and Lily"}, {"max_tokens", 30}, {"seed", seed}, {"temperature", 1.0}};
  json cblock = post_json(cli, "/v1/completions", cbody);
  cbody["stream"] = true;
  cbody["stream_options"] = {{"include_usage", true}};
  SseResult cs = post_sse(cli, "/v1/completions", cbody);
  ASSERT_TRUE(cs.done);
  std::string ctext;
  json usage;
  std::string finish;
  for (auto& e : cs.events) {
    if (e["choices"].empty()) usage = e["usage"];
    for (auto& c : e["choices"]) {
      ctext += c["text"].get<std::string>();
      if (!c["finish_reason"].is_null()) finish = c["finish_reason"];
    }
  }
  EXPECT_EQ(ctext, cblock["choices"][0]["text"]);
  EXPECT_EQ(finish, cblock["choices"][0]["finish_reason"]);
  EXPECT_EQ(usage["completion_tokens"], cblock["usage"]["completion_tokens"]);
  EXPECT_EQ(usage["prompt_tokens"], cblock["usage"]["prompt_tokens"]);
}

TEST_F(StoriesServer, StopStringsEndTheText) {
  auto cli = server_->client();
  json r = post_json(cli, "/v1/completions", {{"prompt", "Once upon a time"}, {"max_tokens", 60}, {"temperature", 0},
                                               {"stop", {"Lily"}}});
  ASSERT_TRUE(r.contains("choices")) << r.dump();
  std::string text = r["choices"][0]["text"];
  EXPECT_EQ(text.find("Lily"), std::string::npos) << text;
  json full = post_json(cli, "/v1/completions", {{"prompt", "Once upon a time"}, {"max_tokens", 60}, {"temperature", 0}});
  std::string all = full["choices"][0]["text"];
  if (all.find("Lily") != std::string::npos) {
    EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
    EXPECT_EQ(text, all.substr(0, all.find("Lily")));
  }
}

// The token route takes stop strings as the OpenAI routes do, and without max_output_tokens runs
// to the end of the context.
TEST_F(StoriesServer, GenerateRouteStopStringsAndDefaultLength) {
  auto cli = server_->client();
  json full = post_json(cli, "/v1/generate", {{"input_text", "Once upon a time"}, {"max_output_tokens", 60},
                                              {"sampling", {{"temperature", 0}}}, {"ignore_eos", true}});
  ASSERT_TRUE(full.contains("output_text")) << full.dump();
  const std::string all = full["output_text"];
  // A stop string from the middle of the greedy text: the text ends right before it.
  const size_t cut = all.find(' ', all.size() / 2);
  ASSERT_NE(cut, std::string::npos) << all;
  const std::string stop = all.substr(cut, 4);
  json r = post_json(cli, "/v1/generate", {{"input_text", "Once upon a time"}, {"max_output_tokens", 60},
                                           {"sampling", {{"temperature", 0}}}, {"ignore_eos", true}, {"stop", stop}});
  EXPECT_EQ(r["finish_reason"], "stop");
  EXPECT_EQ(r["output_text"], all.substr(0, all.find(stop))) << "stop " << json(stop).dump();
  json whole = post_json(cli, "/v1/generate", {{"input_tokens", {1, 403}}, {"ignore_eos", true}});
  json models = json::parse(cli.Get("/v1/models")->body);
  EXPECT_EQ(whole["finish_reason"], "length");
  EXPECT_EQ(whole["usage"]["completion_tokens"].get<int64_t>(), models["data"][0]["max_model_len"].get<int64_t>() - 2);
}

TEST_F(StoriesServer, ErrorPaths) {
  auto cli = server_->client();
  auto expect_error = [&](const std::string& path, const std::string& body, int want_status, const std::string& want_param) {
    auto res = cli.Post(path.c_str(), body, "application/json");
    ASSERT_TRUE(res) << path << " " << body;
    EXPECT_EQ(res->status, want_status) << body << " -> " << res->body;
    json j = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(j.contains("error")) << res->body;
    EXPECT_TRUE(j["error"]["message"].is_string());
    EXPECT_TRUE(j["error"]["type"].is_string());
    EXPECT_TRUE(j["error"].contains("param"));
    EXPECT_TRUE(j["error"].contains("code"));
    if (!want_param.empty()) {
      EXPECT_EQ(j["error"]["param"], want_param) << res->body;
    }
  };
  expect_error("/v1/completions", "{not json", 400, "");
  expect_error("/v1/completions", "[1,2]", 400, "");
  expect_error("/v1/completions", R"({"prompt": 5})", 400, "prompt");
  expect_error("/v1/completions", R"({"prompt": "x", "max_tokens": "many"})", 400, "max_tokens");
  expect_error("/v1/completions", R"({"prompt": "x", "temperature": -1})", 400, "temperature");
  expect_error("/v1/completions", R"({"prompt": [1, 2, 100000]})", 400, "prompt[2]");
  expect_error("/v1/completions", R"({"prompt": "x", "max_tokens": 1000000})", 400, "max_tokens");
  expect_error("/v1/completions", R"({"prompt": "x", "logit_bias": {"99999": 1}})", 400, "logit_bias");
  expect_error("/v1/chat/completions", R"({"messages": []})", 400, "messages");
  // stories260K has no chat template: chat says so.
  expect_error("/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}]})", 400, "messages");
  expect_error("/apply-template", R"({"messages": [{"role": "user", "content": "hi"}]})", 400, "messages");
  expect_error("/v1/generate", R"({"input_tokens": []})", 400, "input_tokens");
  expect_error("/v1/generate", R"({"input_tokens": [1], "sampling": {"top_k": "x"}})", 400, "top_k");
  // Context overflow: a prompt longer than the context is a clear 400.
  std::vector<int> long_prompt(4096, 300);
  expect_error("/v1/generate", json{{"input_tokens", long_prompt}}.dump(), 400, "input_tokens");
  // A body over --max-body-size (100000 here) is refused with 413.
  std::string huge = R"({"prompt": ")" + std::string(200000, 'a') + R"("})";
  expect_error("/v1/completions", huge, 413, "");
  // Unknown route.
  auto nf = cli.Get("/v1/nothing");
  ASSERT_TRUE(nf);
  EXPECT_EQ(nf->status, 404);
  EXPECT_TRUE(json::parse(nf->body).contains("error"));
}

TEST_F(StoriesServer, TruncationOnlyWhenAsked) {
  auto cli = server_->client();
  std::vector<int> long_prompt(3000);
  std::mt19937 rng(std::random_device{}());
  for (auto& t : long_prompt) t = 3 + static_cast<int>(rng() % 500);
  int status = 0;
  json over = post_json(cli, "/v1/completions", {{"prompt", long_prompt}, {"max_tokens", 4}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(over["error"]["code"], "context_length_exceeded");
  json cut = post_json(cli, "/v1/completions",
                       {{"prompt", long_prompt}, {"max_tokens", 4}, {"truncate_prompt_tokens", 100}}, &status);
  EXPECT_EQ(status, 200) << cut.dump();
  EXPECT_EQ(cut["usage"]["prompt_tokens"], 100);
}

TEST_F(StoriesServer, CompletionJsonSchemaIsEnforced) {
  auto cli = server_->client();
  json schema = {{"type", "object"},
                 {"properties", {{"hero", {{"type", "string"}, {"maxLength", 8}}}, {"age", {{"type", "integer"}}},
                                 {"happy", {{"type", "boolean"}}}}},
                 {"required", {"hero", "age", "happy"}}};
  for (int trial = 0; trial < 3; ++trial) {
    json r = post_json(cli, "/v1/completions",
                       {{"prompt", "Once upon a time"}, {"max_tokens", 400}, {"seed", std::random_device{}()},
                        {"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "s"}, {"schema", schema}}}}}});
    ASSERT_TRUE(r.contains("choices")) << r.dump();
    ASSERT_EQ(r["choices"][0]["finish_reason"], "stop") << r.dump();
    json v = json::parse(r["choices"][0]["text"].get<std::string>(), nullptr, false);
    ASSERT_TRUE(v.is_object()) << r["choices"][0]["text"];
    EXPECT_TRUE(v["hero"].is_string() && v["age"].is_number_integer() && v["happy"].is_boolean()) << v.dump();
    EXPECT_EQ(v.size(), 3u);
  }
  int status = 0;
  post_json(cli, "/v1/completions", {{"prompt", "x"}, {"ignore_eos", true}, {"response_format", {{"type", "json_object"}}}},
            &status);
  EXPECT_EQ(status, 400);
}

// Abuse: valid bodies with random fields replaced by random JSON of any type. The server must
// answer every one with a well-formed success or a 4xx error (never a 5xx, never a dropped
// connection) and stay healthy.
json random_json(std::mt19937& rng, int depth = 0) {
  switch (rng() % (depth > 2 ? 6 : 8)) {
    case 0: return nullptr;
    case 1: return rng() % 2 == 0;
    case 2: return static_cast<int64_t>(rng() % 5) - 2;
    case 3: return static_cast<int64_t>(rng()) * (rng() % 2 ? 1 : -1) * 1000003LL;
    case 4: return std::uniform_real_distribution<double>(-1e6, 1e6)(rng);
    case 5: {
      const char* pieces[] = {"a", "\"", "é", "\n", "{", "0", "-1"};
      std::string t;
      for (int i = 0, n = rng() % 4; i < n; ++i) t += pieces[rng() % std::size(pieces)];
      return t;
    }
    case 6: {
      json a = json::array();
      for (int i = 0, n = rng() % 4; i < n; ++i) a.push_back(random_json(rng, depth + 1));
      return a;
    }
    default: {
      json o = json::object();
      for (int i = 0, n = rng() % 3; i < n; ++i) o[std::string(1, "abtx"[rng() % 4])] = random_json(rng, depth + 1);
      return o;
    }
  }
}

TEST_F(StoriesServer, RandomlyMalformedBodiesNeverBreakIt) {
  auto cli = server_->client();
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  const std::vector<std::pair<std::string, json>> bases = {
      {"/v1/completions", {{"prompt", "Once"}, {"max_tokens", 4}, {"temperature", 0.5}, {"stop", {"x"}}, {"n", 2},
                           {"logprobs", 1}, {"seed", 3}, {"logit_bias", {{"5", 1}}}, {"stream", false},
                           {"response_format", {{"type", "json_object"}}}, {"speculation", {{"mode", "ngram"}}}}},
      {"/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", 4},
                                {"tools", {{{"type", "function"}, {"function", {{"name", "f"}}}}}}, {"tool_choice", "auto"},
                                {"top_logprobs", 2}, {"logprobs", true}, {"stream_options", nullptr}}},
      {"/v1/generate", {{"input_tokens", {1, 403}}, {"max_output_tokens", 4}, {"sampling", {{"top_k", 3}}},
                        {"stop_token_ids", {2}}, {"ignore_eos", true}}},
      {"/v1/embeddings", {{"input", {"a b", "c"}}, {"encoding_format", "float"}}},
      {"/tokenize", {{"prompt", "hello"}, {"add_special", true}}},
      {"/detokenize", {{"tokens", {1, 2, 3}}}},
      {"/apply-template", {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"add_generation_prompt", false},
                           {"chat_template_kwargs", json::object()}}},
  };
  for (int trial = 0; trial < 150; ++trial) {
    auto [path, body] = bases[rng() % bases.size()];
    std::vector<std::string> keys;
    for (auto& [k, v] : body.items()) keys.push_back(k);
    for (int m = 0, n = 1 + rng() % 2; m < n; ++m) {
      const std::string& key = keys[rng() % keys.size()];
      // Keep generation short whatever else changes.
      if (key == "max_tokens" || key == "max_output_tokens") continue;
      body[key] = random_json(rng);
    }
    auto res = cli.Post(path.c_str(), body.dump(), "application/json");
    ASSERT_TRUE(res) << path << " " << body.dump();
    EXPECT_TRUE(res->status == 200 || (res->status >= 400 && res->status < 500)) << res->status << " " << path << " "
                                                                                 << body.dump() << " -> " << res->body;
    if (res->status == 200 && body.contains("stream") && body["stream"] == true) continue;  // an SSE body
    json reply = json::parse(res->body, nullptr, false);
    EXPECT_FALSE(reply.is_discarded()) << res->body;
    if (res->status != 200) {
      EXPECT_TRUE(reply.contains("error")) << res->body;
    }
  }
  EXPECT_EQ(cli.Get("/health")->status, 200);
  EXPECT_TRUE(engine_drains(cli));
}

TEST_F(StoriesServer, ClientDisconnectCancelsAndFreesKv) {
  auto cli = server_->client();
  const double cancelled_before = metric(cli, "ax_requests_cancelled_total");
  int seen = 0;
  SseResult s = post_sse(cli, "/v1/generate/stream",
                         {{"input_text", "Once upon a time"}, {"max_output_tokens", 1500}, {"ignore_eos", true}},
                         [&](const json&) { return ++seen < 5; });
  EXPECT_EQ(seen, 5);
  EXPECT_FALSE(s.done);
  EXPECT_TRUE(engine_drains(cli)) << "KV blocks still in use after the client hung up";
  EXPECT_GT(metric(cli, "ax_requests_cancelled_total"), cancelled_before);
}

TEST_F(StoriesServer, MetricsExposition) {
  auto cli = server_->client();
  post_json(cli, "/v1/completions", {{"prompt", "Once"}, {"max_tokens", 3}});
  auto res = cli.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  for (const char* name : {"ax_http_requests_total", "ax_time_to_first_token_seconds_bucket",
                           "ax_inter_token_latency_seconds_bucket", "ax_requests_waiting", "ax_kv_cache_usage_ratio",
                           "ax_prefix_cache_hit_tokens_total", "ax_spec_acceptance_ratio", "ax_generation_tokens_total",
                           "ax_prefix_cache_evicted_blocks_total"})
    EXPECT_NE(res->body.find(name), std::string::npos) << name;
  EXPECT_GT(metric(cli, "ax_generation_tokens_total"), 0);
  EXPECT_GE(metric(cli, "ax_engine_generated_tokens_total"), 3);  // counted by the engine as it steps
  EXPECT_GT(metric(cli, "process_resident_memory_bytes"), 1e6);  // the model alone is a megabyte
}

TEST(PrometheusText, ValueOfTheFirstSampleWithExactlyThatName) {
  const std::string text =
      "# HELP ax_kv_blocks_used KV blocks.\n# TYPE ax_kv_blocks_used gauge\nax_kv_blocks_used_ratio 0.5\n"
      "ax_kv_blocks_used 12\nax_kv_blocks_used 13\nax_http_requests_total{route=\"/health\",status=\"200\"} 3\n";
  EXPECT_EQ(server::prometheus_value(text, "ax_kv_blocks_used"), 12.0);
  EXPECT_EQ(server::prometheus_value(text, "ax_http_requests_total{route=\"/health\",status=\"200\"}"), 3.0);
  EXPECT_FALSE(server::prometheus_value(text, "ax_kv_blocks").has_value());
  EXPECT_FALSE(server::prometheus_value("ax_x not-a-number\n", "ax_x").has_value());
}

TEST(ServerStartup, BadModelPathFailsWithOneLine) {
  auto [status, err] = run_capture_stderr({AX_ENGINE_BINARY, "serve", "--model", "/nonexistent/model.gguf", "--port", "0"});
  EXPECT_NE(status, 0);
  EXPECT_NE(err.find("error: "), std::string::npos) << err;
  EXPECT_NE(err.find("/nonexistent/model.gguf"), std::string::npos) << err;
  // A file that is not a model: one clear line too.
  auto [status2, err2] = run_capture_stderr({AX_ENGINE_BINARY, "serve", "--model", source_dir() + "/CMakeLists.txt", "--port", "0"});
  EXPECT_NE(status2, 0);
  EXPECT_NE(err2.find("error: "), std::string::npos) << err2;
}

// /health is 503 while the model loads. The "model" is a FIFO, so loading waits for a writer
// for as long as the test wants; then it gets bytes that are no model, and the server exits 1.
TEST(ServerStartup, HealthIs503WhileLoading) {
  std::signal(SIGPIPE, SIG_IGN);
  const std::string fifo = testing::TempDir() + "/ax_loading_" + std::to_string(getpid()) + ".gguf";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ServerProcess server(fifo, {}, /*wait_ready=*/false);
  auto cli = server.client();
  auto h = cli.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 503);
  EXPECT_EQ(json::parse(h->body)["status"], "loading");
  auto c = cli.Post("/v1/completions", R"({"prompt": "x"})", "application/json");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 503);
  EXPECT_EQ(json::parse(c->body)["error"]["code"], "model_loading");
  {
    std::ofstream w(fifo);
    w << "not a model";
  }
  EXPECT_EQ(server.stop(), 1);
  unlink(fifo.c_str());
}

TEST(ServerAuth, ApiKeyRequiredWhenSet) {
  std::signal(SIGPIPE, SIG_IGN);
  ServerProcess server(stories_model(), {"--api-key", "sekret"});
  auto cli = server.client();
  auto no_key = cli.Post("/v1/completions", R"({"prompt":"x","max_tokens":1})", "application/json");
  ASSERT_TRUE(no_key);
  EXPECT_EQ(no_key->status, 401);
  EXPECT_EQ(json::parse(no_key->body)["error"]["code"], "invalid_api_key");
  httplib::Headers wrong = {{"Authorization", "Bearer nope"}};
  EXPECT_EQ(cli.Get("/v1/models", wrong)->status, 401);
  httplib::Headers right = {{"Authorization", "Bearer sekret"}};
  EXPECT_EQ(cli.Get("/v1/models", right)->status, 200);
  // The scheme is case-insensitive (RFC 7235); spaces around the key do not count.
  for (const char* auth : {"bearer sekret", "BEARER sekret", "Bearer  sekret ", "bEaReR sekret"})
    EXPECT_EQ(cli.Get("/v1/models", httplib::Headers{{"Authorization", auth}})->status, 200) << auth;
  for (const char* auth : {"Basic sekret", "Bearersekret", "Bearer", "sekret", "Bearer sekret2"})
    EXPECT_EQ(cli.Get("/v1/models", httplib::Headers{{"Authorization", auth}})->status, 401) << auth;
  // A browser sends the key as HTTP Basic credentials (any user name): "user:sekret", ":sekret".
  for (const char* auth : {"Basic dXNlcjpzZWtyZXQ=", "basic OnNla3JldA=="})
    EXPECT_EQ(cli.Get("/v1/models", httplib::Headers{{"Authorization", auth}})->status, 200) << auth;
  // "sekret" without a colon, "user:nope", not base64.
  for (const char* auth : {"Basic c2VrcmV0", "Basic dXNlcjpub3Bl", "Basic dXNlcjpzZWtyZXQ"})
    EXPECT_EQ(cli.Get("/v1/models", httplib::Headers{{"Authorization", auth}})->status, 401) << auth;
  EXPECT_EQ(cli.Get("/health")->status, 200);  // health answers without the key
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServerLimits, MaxConcurrentAnswers429) {
  std::signal(SIGPIPE, SIG_IGN);
  // The code model is slow enough that a 1500-token stream outlasts the probe whatever the
  // socket buffers absorb; the holder then hangs up.
  ServerProcess server(code_model(), {"--max-concurrent", "1"});
  std::atomic<bool> streaming{false}, probed{false};
  std::thread holder([&] {
    auto c = server.client();
    // The stream stays open (its reader waits) until the second request has been answered.
    post_sse(c, "/v1/generate/stream", {{"input_text", "def"}, {"max_output_tokens", 1500}, {"ignore_eos", true}},
             [&](const json&) {
               streaming = true;
               while (!probed) std::this_thread::sleep_for(std::chrono::milliseconds(2));
               return false;  // hang up: the server cancels the rest
             });
  });
  while (!streaming) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  auto cli = server.client();
  auto busy = cli.Post("/v1/completions", R"({"prompt":"x","max_tokens":1})", "application/json");
  probed = true;
  holder.join();
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->status, 429) << busy->body;
  EXPECT_EQ(json::parse(busy->body)["error"]["type"], "rate_limit_error");
  EXPECT_EQ(busy->get_header_value("Retry-After"), "1");  // clients back off and retry
  int status = 0;
  // Once the stream has ended the slot is free again.
  for (int i = 0; i < 100; ++i) {
    post_json(cli, "/v1/completions", {{"prompt", "x"}, {"max_tokens", 1}}, &status);
    if (status != 429) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(status, 200);
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServerShutdown, SigtermFinishesInFlightAndExitsZero) {
  std::signal(SIGPIPE, SIG_IGN);
  // The code model streams slowly enough for the checks below to happen mid-stream.
  ServerProcess server(code_model(), {"--shutdown-grace", "30"});
  std::atomic<bool> streaming{false};
  SseResult s;
  std::thread request([&] {
    auto c = server.client();
    s = post_sse(c, "/v1/generate/stream", {{"input_text", "def"}, {"max_output_tokens", 800}, {"ignore_eos", true}},
                 [&](const json&) {
                   streaming = true;
                   return true;
                 });
  });
  while (!streaming) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  server.terminate();
  // While the in-flight stream finishes: /health says so and new generation work is refused.
  auto cli = server.client();
  int health = 0, fresh = 0;
  for (int i = 0; i < 200 && health != 503; ++i) {
    auto h = cli.Get("/health");
    health = h ? h->status : 0;
    if (health != 503) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  post_json(cli, "/v1/completions", {{"prompt", "x"}, {"max_tokens", 1}}, &fresh);
  request.join();
  EXPECT_EQ(health, 503);
  EXPECT_EQ(fresh, 503);
  EXPECT_TRUE(s.done);
  ASSERT_FALSE(s.events.empty());
  EXPECT_EQ(s.events.back()["finish_reason"], "length");
  EXPECT_EQ(s.events.back()["usage"]["completion_tokens"], 800);
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServerShutdown, GraceRunsOutCancelsStreams) {
  std::signal(SIGPIPE, SIG_IGN);
  ServerProcess server(code_model(), {"--shutdown-grace", "0.2"});
  std::atomic<bool> streaming{false};
  SseResult s;
  std::thread request([&] {
    auto c = server.client();
    s = post_sse(c, "/v1/generate/stream", {{"input_text", "def"}, {"max_output_tokens", 1900}, {"ignore_eos", true}},
                 [&](const json&) {
                   streaming = true;
                   return true;
                 });
  });
  while (!streaming) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(server.stop(), 0);
  request.join();
  // The stream was cut short with an error event and still ended properly.
  EXPECT_TRUE(s.done);
  ASSERT_FALSE(s.events.empty());
  EXPECT_TRUE(s.events.back().contains("error")) << s.events.back().dump();
}

class CodeServer : public SharedServer<CodeServer> {
 public:
  static std::string model() { return code_model(); }
  static std::vector<std::string> flags() { return {}; }
};

TEST_F(CodeServer, ChatStreamEqualsBlocking) {
  auto cli = server_->client();
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  json body = {{"messages", {{{"role", "system"}, {"content", "You write Python."}},
                             {{"role", "user"}, {"content", {{{"type", "text"}, {"text", "def add(a, b):"}}}}}}},
               {"max_completion_tokens", 24}, {"seed", seed}, {"temperature", 0.7}};
  json r = post_json(cli, "/v1/chat/completions", body);
  ASSERT_TRUE(r.contains("choices")) << r.dump();
  EXPECT_EQ(r["object"], "chat.completion");
  ASSERT_EQ(r["choices"].size(), 1u);
  EXPECT_EQ(r["choices"][0]["message"]["role"], "assistant");
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  SseResult s = post_sse(cli, "/v1/chat/completions", body);
  ASSERT_EQ(s.status, 200);
  ASSERT_TRUE(s.done);
  ASSERT_FALSE(s.malformed);
  std::string text;
  int finishes = 0;
  bool role_first = false;
  for (auto& e : s.events) {
    if (e["choices"].empty()) {
      EXPECT_EQ(e["usage"]["completion_tokens"], r["usage"]["completion_tokens"]);
      EXPECT_EQ(e["usage"]["prompt_tokens"], r["usage"]["prompt_tokens"]);
      continue;
    }
    EXPECT_EQ(e["object"], "chat.completion.chunk");
    for (auto& c : e["choices"]) {
      if (&e == &s.events.front()) role_first = c["delta"]["role"] == "assistant";
      if (c["delta"].contains("content")) text += c["delta"]["content"].get<std::string>();
      if (!c["finish_reason"].is_null()) {
        ++finishes;
        EXPECT_EQ(c["finish_reason"], r["choices"][0]["finish_reason"]);
      }
    }
  }
  EXPECT_TRUE(role_first);
  EXPECT_EQ(finishes, 1);
  EXPECT_EQ(text, r["choices"][0]["message"]["content"]);
  EXPECT_GT(r["usage"]["prompt_tokens"].get<int>(), 0);
}

TEST_F(CodeServer, ChatSeveralChoicesStream) {
  auto cli = server_->client();
  json body = {{"messages", {{{"role", "user"}, {"content", "class Foo:"}}}}, {"max_tokens", 10}, {"n", 3},
               {"stream", true}, {"ignore_eos", true}};
  SseResult s = post_sse(cli, "/v1/chat/completions", body);
  ASSERT_TRUE(s.done);
  std::map<int, int> finishes;
  for (auto& e : s.events)
    for (auto& c : e["choices"])
      if (!c["finish_reason"].is_null()) finishes[c["index"].get<int>()]++;
  EXPECT_EQ(finishes, (std::map<int, int>{{0, 1}, {1, 1}, {2, 1}}));
}

// Embeddings run on HTTP threads beside the engine: under concurrent generation they stay the
// same vectors (no shared scratch between the two), and generation is unaffected.
TEST_F(CodeServer, EmbeddingsBesideGenerationAreUnchanged) {
  auto cli = server_->client();
  const std::string text = "def handler(request):\n    return response";
  json idle = post_json(cli, "/v1/embeddings", {{"input", text}});
  ASSERT_TRUE(idle.contains("data")) << idle.dump();
  std::atomic<bool> stop{false};
  std::atomic<int> streams{0};
  std::vector<std::thread> generators;
  for (int g = 0; g < 3; ++g)
    generators.emplace_back([&] {
      auto c = server_->client();
      while (!stop) {
        SseResult s = post_sse(c, "/v1/generate/stream", {{"input_text", "import"}, {"max_output_tokens", 40}, {"ignore_eos", true}});
        if (s.done && !s.events.empty() && s.events.back()["usage"]["completion_tokens"] == 40) ++streams;
      }
    });
  for (int i = 0; i < 8; ++i) {
    json busy = post_json(cli, "/v1/embeddings", {{"input", text}});
    ASSERT_TRUE(busy.contains("data")) << busy.dump();
    for (size_t k = 0; k < 384; ++k)
      ASSERT_NEAR(busy["data"][0]["embedding"][k].get<double>(), idle["data"][0]["embedding"][k].get<double>(), 1e-5) << k;
  }
  stop = true;
  for (auto& t : generators) t.join();
  EXPECT_GT(streams.load(), 0);
}

TEST_F(CodeServer, TokenizeMessagesCountsTheChatPrompt) {
  auto cli = server_->client();
  json messages = {{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "def f():"}}};
  json t = post_json(cli, "/tokenize", {{"messages", messages}});
  ASSERT_TRUE(t["tokens"].is_array()) << t.dump();
  json r = post_json(cli, "/v1/chat/completions", {{"messages", messages}, {"max_tokens", 1}});
  EXPECT_EQ(t["count"], r["usage"]["prompt_tokens"]);
  int status = 0;
  post_json(cli, "/tokenize", {{"messages", messages}, {"chat_template_kwargs", 3}}, &status);
  EXPECT_EQ(status, 400);
  json same = post_json(cli, "/tokenize", {{"messages", messages}, {"chat_template_kwargs", {{"enable_thinking", false}}}});
  EXPECT_EQ(same["tokens"], t["tokens"]);  // this template has no such variable
  json text = post_json(cli, "/detokenize", {{"tokens", t["tokens"]}});
  EXPECT_EQ(text["prompt"], "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\ndef f():<|im_end|>\n<|im_start|>assistant\n");
}

// /apply-template gives the text /tokenize and chat tokenize; without the generation prompt it ends
// after the last message.
TEST_F(CodeServer, ApplyTemplateRendersTheChatText) {
  auto cli = server_->client();
  json messages = {{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "def f():"}}};
  json t = post_json(cli, "/tokenize", {{"messages", messages}});
  json text = post_json(cli, "/detokenize", {{"tokens", t["tokens"]}});
  json rendered = post_json(cli, "/apply-template", {{"messages", messages}});
  EXPECT_EQ(rendered["prompt"], text["prompt"]) << rendered.dump();
  json open = post_json(cli, "/apply-template", {{"messages", messages}, {"add_generation_prompt", false}});
  EXPECT_EQ(open["prompt"], "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\ndef f():<|im_end|>\n");
  int status = 0;
  json bad = post_json(cli, "/apply-template", {{"messages", messages}, {"add_generation_prompt", "yes"}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(bad["error"]["param"], "add_generation_prompt");
  bad = post_json(cli, "/apply-template", {{"messages", {{{"role", "user"}}}}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(bad["error"]["param"], "messages[0].content");
}

// /v1/generate with messages renders them as chat does: the same tokens for the same seed.
TEST_F(CodeServer, GenerateFromMessagesEqualsChat) {
  auto cli = server_->client();
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  json messages = {{{"role", "system"}, {"content", "Python only."}}, {{"role", "user"}, {"content", "def add(a, b):"}}};
  json chat = post_json(cli, "/v1/chat/completions", {{"messages", messages}, {"max_tokens", 24}, {"seed", seed},
                                                      {"temperature", 0.8}});
  json gen = post_json(cli, "/v1/generate", {{"messages", messages}, {"max_output_tokens", 24},
                                             {"sampling", {{"seed", seed}, {"temperature", 0.8}}}});
  ASSERT_TRUE(gen.contains("output_text")) << gen.dump();
  EXPECT_EQ(gen["output_text"], chat["choices"][0]["message"]["content"]);
  EXPECT_EQ(gen["usage"]["prompt_tokens"], chat["usage"]["prompt_tokens"]);
  int status = 0;
  json bad = post_json(cli, "/v1/generate", {{"messages", {{{"role", "user"}}}}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(bad["error"]["param"], "messages[0].content");
}

TEST_F(CodeServer, ChatLogprobs) {
  auto cli = server_->client();
  json r = post_json(cli, "/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "import"}}}},
                                                   {"max_tokens", 6}, {"logprobs", true}, {"top_logprobs", 3},
                                                   {"ignore_eos", true}});
  ASSERT_TRUE(r.contains("choices")) << r.dump();
  const json& content = r["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 6u);
  for (auto& t : content) {
    EXPECT_EQ(t["top_logprobs"].size(), 3u);
    EXPECT_GE(t["top_logprobs"][0]["logprob"].get<double>(), t["logprob"].get<double>() - 1e-6);
    EXPECT_TRUE(t["bytes"].is_array());
  }
}

}  // namespace
}  // namespace ax::test

namespace ax::test {
namespace {

TEST_F(CodeServer, EmbeddingsAreNormalisedAndBatchIndependent) {
  auto cli = server_->client();
  std::mt19937 rng(std::random_device{}());
  const char* pieces[] = {"def ", "foo", "(x)", ": return ", "x + 1", "\n", "import os", " # note"};
  std::vector<std::string> texts;
  for (int i = 0; i < 3; ++i) {
    std::string t;
    for (int k = 0; k < 5; ++k) t += pieces[rng() % std::size(pieces)];
    texts.push_back(t);
  }
  json batch = post_json(cli, "/v1/embeddings", {{"input", texts}, {"model", "ax-code-15m"}});
  ASSERT_TRUE(batch.contains("data")) << batch.dump();
  ASSERT_EQ(batch["data"].size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const json& e = batch["data"][i];
    EXPECT_EQ(e["index"], i);
    EXPECT_EQ(e["embedding"].size(), 384u);
    double norm = 0;
    for (auto& x : e["embedding"]) norm += x.get<double>() * x.get<double>();
    EXPECT_NEAR(norm, 1.0, 1e-4);
    // One input alone gives the same vector as inside a batch.
    json single = post_json(cli, "/v1/embeddings", {{"input", texts[i]}});
    for (size_t k = 0; k < 384; ++k)
      ASSERT_NEAR(single["data"][0]["embedding"][k].get<double>(), e["embedding"][k].get<double>(), 1e-6);
  }
  EXPECT_GT(batch["usage"]["prompt_tokens"].get<int>(), 0);
  // base64: the same float32 values, little-endian.
  json b64 = post_json(cli, "/v1/embeddings", {{"input", texts[0]}, {"encoding_format", "base64"}});
  std::string enc = b64["data"][0]["embedding"];
  EXPECT_EQ(enc.size(), (384u * 4 + 2) / 3 * 4);
  auto decode = [](const std::string& in) {
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
      if (c == '=') break;
      const std::string tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      acc = acc << 6 | static_cast<uint32_t>(tbl.find(c));
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += static_cast<char>(acc >> bits & 0xFF);
      }
    }
    return out;
  };
  std::string raw = decode(enc);
  ASSERT_EQ(raw.size(), 384u * 4);
  json plain = post_json(cli, "/v1/embeddings", {{"input", texts[0]}});
  for (size_t k = 0; k < 384; ++k) {
    float f;
    std::memcpy(&f, raw.data() + 4 * k, 4);
    ASSERT_FLOAT_EQ(f, plain["data"][0]["embedding"][k].get<float>());
  }
  int status = 0;
  post_json(cli, "/v1/embeddings", {{"input", json::array()}}, &status);
  EXPECT_EQ(status, 400);
  json e = post_json(cli, "/v1/embeddings", {{"input", {"ok", 5}}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(e["error"]["param"], "input[1]");
  e = post_json(cli, "/v1/embeddings", {{"input", "x"}, {"dimensions", 12}}, &status);
  EXPECT_EQ(e["error"]["param"], "dimensions");
}

}  // namespace
}  // namespace ax::test
