// Ollama's API (/api/chat, /api/generate, /api/embed, /api/embeddings, /api/tags, /api/show,
// /api/ps, /api/version) over real HTTP with the bundled ax-code-15m: reply shapes and timings,
// NDJSON framing, stream == blocking, num_predict, context continuation, format schemas honored,
// thinking split, and errors in Ollama's shape.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_helpers.h"
#include "schema_validator.h"
#include "shared_server.h"
#include "test_support.h"
#include "thinking_model.h"

namespace ax::test {
namespace {

using nlohmann::json;

class OllamaServer : public SharedServer<OllamaServer> {
 public:
  static std::string model() { return source_dir() + "/models/ax-code-15m"; }
  static std::vector<std::string> flags() { return {"--alias", "coder"}; }
};

const json kUser = json::array({{{"role", "user"}, {"content", "def fib(n):"}}});

// The lines of an NDJSON body, each parsed (a line that is not JSON parses to a discarded value).
std::vector<json> ndjson(const std::string& body) {
  std::vector<json> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t nl = body.find('\n', pos);
    if (nl == std::string::npos) nl = body.size();
    out.push_back(json::parse(body.substr(pos, nl - pos), nullptr, false));
    pos = nl + 1;
  }
  return out;
}

void expect_done_object(const json& r, int64_t max_eval) {
  EXPECT_EQ(r["done"], true) << r.dump();
  EXPECT_TRUE(r["done_reason"] == "stop" || r["done_reason"] == "length") << r.dump();
  EXPECT_TRUE(std::regex_match(r["created_at"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z)")))
      << r["created_at"];
  for (const char* key : {"total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count",
                          "eval_duration"}) {
    ASSERT_TRUE(r[key].is_number_integer()) << key << " in " << r.dump();
    EXPECT_GE(r[key].get<int64_t>(), 0) << key;
  }
  EXPECT_GT(r["prompt_eval_count"].get<int64_t>(), 0);
  EXPECT_GE(r["eval_count"].get<int64_t>(), 1);
  EXPECT_LE(r["eval_count"].get<int64_t>(), max_eval);
  EXPECT_GE(r["total_duration"].get<int64_t>(), r["eval_duration"].get<int64_t>());
  EXPECT_EQ(r["done_reason"] == "length", r["eval_count"].get<int64_t>() == max_eval) << r.dump();
}

TEST_F(OllamaServer, ChatBlockingAndStreamedAgree) {
  auto cli = server_->client();
  json body = {{"model", "ax-code-15m"}, {"messages", kUser}, {"stream", false},
               {"options", {{"temperature", 0}, {"num_predict", 12}}}};
  int status = 0;
  const json r = post_json(cli, "/api/chat", body, &status);
  ASSERT_EQ(status, 200) << r.dump();
  EXPECT_EQ(r["model"], "ax-code-15m");
  EXPECT_EQ(r["message"]["role"], "assistant");
  EXPECT_FALSE(r["message"].contains("thinking"));  // this model's template does not think
  expect_done_object(r, 12);

  // stream defaults to true: NDJSON, one object per line, the last one done with the numbers.
  body.erase("stream");
  auto res = cli.Post("/api/chat", body.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/x-ndjson");
  ASSERT_FALSE(res->body.empty());
  EXPECT_EQ(res->body.back(), '\n');
  const std::vector<json> lines = ndjson(res->body.substr(0, res->body.size() - 1));
  ASSERT_GE(lines.size(), 2u);
  std::string content;
  for (size_t i = 0; i < lines.size(); ++i) {
    ASSERT_TRUE(lines[i].is_object()) << "line " << i << " of " << res->body;
    EXPECT_EQ(lines[i]["done"], i + 1 == lines.size());
    content += lines[i]["message"]["content"].get<std::string>();
  }
  expect_done_object(lines.back(), 12);
  EXPECT_EQ(content, r["message"]["content"]);
  EXPECT_EQ(lines.back()["eval_count"], r["eval_count"]);
}

TEST_F(OllamaServer, GenerateContextContinuesTheExchange) {
  auto cli = server_->client();
  int status = 0;
  const json first = post_json(cli, "/api/generate",
                               {{"model", "ax-code-15m:latest"}, {"prompt", "import os"}, {"stream", false},
                                {"options", {{"temperature", 0}, {"num_predict", 6}}}},
                               &status);
  ASSERT_EQ(status, 200) << first.dump();
  EXPECT_EQ(first["model"], "ax-code-15m:latest");  // echoed as sent
  expect_done_object(first, 6);
  ASSERT_TRUE(first["response"].is_string());
  ASSERT_TRUE(first["context"].is_array());
  const size_t context_size = first["context"].size();
  // The context is the prompt and the reply's tokens (an end token excepted).
  EXPECT_GE(context_size, first["prompt_eval_count"].get<size_t>() + first["eval_count"].get<size_t>() - 1);
  const json second = post_json(cli, "/api/generate",
                                {{"model", "ax-code-15m"}, {"prompt", "import sys"}, {"stream", false},
                                 {"context", first["context"]}, {"options", {{"temperature", 0}, {"num_predict", 4}}}},
                                &status);
  ASSERT_EQ(status, 200) << second.dump();
  EXPECT_GT(second["prompt_eval_count"].get<size_t>(), context_size);
  EXPECT_GT(second["context"].size(), context_size);
  EXPECT_EQ(json(std::vector<json>(second["context"].begin(), second["context"].begin() + context_size)), first["context"]);
}

TEST_F(OllamaServer, GenerateRawStreamsAndStopsAtNumPredict) {
  auto cli = server_->client();
  const json body = {{"model", "coder"}, {"prompt", "for i in range(10):"}, {"raw", true},
                     {"options", {{"temperature", 0}, {"num_predict", 3}, {"seed", 7}}}};
  auto [status, raw] = post_stream(cli, "/api/generate", body);
  ASSERT_EQ(status, 200) << raw;
  const std::vector<json> lines = ndjson(raw.substr(0, raw.size() - 1));
  std::string text;
  for (const json& l : lines) text += l["response"].get<std::string>();
  expect_done_object(lines.back(), 3);
  ASSERT_TRUE(lines.back()["context"].is_array());
  json blocking = body;
  blocking["stream"] = false;
  const json r = post_json(cli, "/api/generate", blocking);
  EXPECT_EQ(r["response"], text);
}

TEST_F(OllamaServer, FormatSchemaIsHonored) {
  auto cli = server_->client();
  const json schema = {{"type", "object"},
                       {"properties", {{"name", {{"type", "string"}, {"maxLength", 8}}},
                                       {"age", {{"type", "integer"}, {"minimum", 0}, {"maximum", 120}}}}},
                       {"required", {"name", "age"}}};
  // Chat, generate through the template, and generate's raw prompt (its own path to the grammar).
  for (const std::string variant : {"chat", "generate", "raw"}) {
    const std::string route = variant == "chat" ? "/api/chat" : "/api/generate";
    json body = {{"model", "ax-code-15m"}, {"stream", false}, {"format", schema},
                 {"options", {{"temperature", 0}, {"num_predict", 80}}}};
    if (variant == "chat") body["messages"] = {{{"role", "user"}, {"content", "A person as JSON."}}};
    else body["prompt"] = "A person as JSON.";
    if (variant == "raw") {  // examples to continue: the tiny model pads a bare prompt with whitespace
      body["raw"] = true;
      body["prompt"] = "{\"name\": \"Bob\", \"age\": 30}\n{\"name\": \"Ann\", \"age\": 41}\n";
    }
    int status = 0;
    const json r = post_json(cli, route, body, &status);
    ASSERT_EQ(status, 200) << r.dump();
    ASSERT_EQ(r["done_reason"], "stop") << variant << ": " << r.dump();
    const std::string text = variant == "chat" ? r["message"]["content"].get<std::string>() : r["response"].get<std::string>();
    const json doc = json::parse(text, nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << text;
    EXPECT_TRUE(validate(doc, schema, schema)) << text;
  }
  int status = 0;
  const json r = post_json(cli, "/api/chat",
                           {{"model", "ax-code-15m"}, {"messages", kUser}, {"stream", false}, {"format", "json"},
                            {"options", {{"temperature", 0}, {"num_predict", 60}}}},
                           &status);
  ASSERT_EQ(status, 200) << r.dump();
  if (r["done_reason"] == "stop") {
    EXPECT_TRUE(json::parse(r["message"]["content"].get<std::string>()).is_object());
  }
  // A schema this server cannot enforce is a 400 naming format.
  const json bad = post_json(cli, "/api/chat",
                             {{"model", "ax-code-15m"}, {"messages", kUser}, {"format", {{"type", "object"}, {"not", {}}}}},
                             &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(bad["error"].get<std::string>().find("format"), std::string::npos) << bad.dump();
}

TEST_F(OllamaServer, ToolCallsGoBackToTheTemplate) {
  auto cli = server_->client();
  const json tools = {{{"type", "function"},
                       {"function", {{"name", "get_weather"}, {"description", "Weather in a city"},
                                     {"parameters", {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}}}}};
  const json messages = {
      {{"role", "user"}, {"content", "Weather in Paris?"}},
      {{"role", "assistant"}, {"content", ""},
       {"tool_calls", {{{"function", {{"name", "get_weather"}, {"arguments", {{"city", "Paris"}}}}}}}}},
      {{"role", "tool"}, {"content", "18C and sunny"}, {"tool_name", "get_weather"}}};
  int status = 0;
  const json r = post_json(cli, "/api/chat",
                           {{"model", "ax-code-15m"}, {"messages", messages}, {"tools", tools}, {"stream", false},
                            {"options", {{"num_predict", 8}}}},
                           &status);
  ASSERT_EQ(status, 200) << r.dump();
  // The prompt is the one the same conversation in OpenAI's shape renders to: the call (its
  // arguments as a string) and its result went to the template.
  const json openai_messages = {
      messages[0],
      {{"role", "assistant"}, {"content", ""},
       {"tool_calls", {{{"id", "call_1"}, {"type", "function"},
                        {"function", {{"name", "get_weather"}, {"arguments", "{\"city\":\"Paris\"}"}}}}}}},
      {{"role", "tool"}, {"content", "18C and sunny"}, {"name", "get_weather"}}};
  const json tokens = post_json(cli, "/tokenize", {{"messages", openai_messages}, {"tools", tools}}, &status);
  ASSERT_EQ(status, 200) << tokens.dump();
  EXPECT_EQ(r["prompt_eval_count"], tokens["count"]);
  const json text = post_json(cli, "/apply-template", {{"messages", openai_messages}, {"tools", tools}});
  EXPECT_NE(text["prompt"].get<std::string>().find("18C and sunny"), std::string::npos);
  EXPECT_NE(text["prompt"].get<std::string>().find("Paris"), std::string::npos);
}

TEST_F(OllamaServer, ErrorsInOllamasShape) {
  auto cli = server_->client();
  auto expect_error = [&](const std::string& path, const std::string& body, int want_status, const std::string& want) {
    auto res = cli.Post(path.c_str(), body, "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, want_status) << path << " " << body << " -> " << res->body;
    const json e = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(e.is_object()) << res->body;
    EXPECT_EQ(e.size(), 1u) << res->body;  // {"error": "..."} and nothing else
    ASSERT_TRUE(e["error"].is_string()) << res->body;
    EXPECT_NE(e["error"].get<std::string>().find(want), std::string::npos) << res->body;
  };
  expect_error("/api/chat", "{not json", 400, "not valid JSON");
  expect_error("/api/chat", R"({"model": "nope", "messages": [{"role": "user", "content": "x"}]})", 404,
               "model \"nope\" not found");
  expect_error("/api/generate", R"({"model": "nope:7b", "prompt": "x"})", 404, "model \"nope:7b\" not found");
  expect_error("/api/show", R"({"model": "nope"})", 404, "model \"nope\" not found");
  expect_error("/api/embed", R"({"model": "nope", "input": "x"})", 404, "model \"nope\" not found");
  expect_error("/api/chat", R"({"messages": [{"role": "user", "content": "x"}]})", 400, "model is required");
  expect_error("/api/chat", R"({"model": "coder", "messages": [{"role": "user", "content": "x", "images": ["aGk="]}]})",
               400, "images");
  expect_error("/api/generate", R"({"model": "coder", "prompt": "x", "options": {"temperature": "hot"}})", 400,
               "options.temperature");
  expect_error("/api/generate", R"({"model": "coder", "prompt": "x", "keep_alive": "soon"})", 400, "keep_alive");
  expect_error("/api/chat", R"({"model": "coder", "messages": [{"role": "user", "content": "x"}], "think": true})", 400,
               "\"coder\" does not support thinking");
  expect_error("/api/generate", R"({"model": "coder", "prompt": "a b c d e f g h", "options": {"num_ctx": 3}})", 400,
               "num_ctx");
  expect_error("/api/generate", R"({"model": "coder", "prompt": "x", "context": [99999999]})", 400, "context[0]");
  // Routes Ollama has and this server does not (model management) answer in the same shape.
  expect_error("/api/pull", R"({"model": "llama3"})", 404, "No route POST /api/pull");
}

TEST_F(OllamaServer, ClientHangingUpCancelsTheStream) {
  auto cli = server_->client();
  const double cancelled_before = metric(cli, "ax_requests_cancelled_total");
  httplib::Request req;
  req.method = "POST";
  req.path = "/api/generate";
  req.body = json({{"model", "ax-code-15m"}, {"prompt", "Write a very long Python module."},
                   {"options", {{"num_predict", 1500}}}})
                 .dump();
  req.set_header("Content-Type", "application/json");
  int lines = 0;
  // 1500 tokens take far longer than the three lines the client waits for.
  req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    lines += static_cast<int>(std::count(data, data + len, '\n'));
    return lines < 3;
  };
  cli.send(req);
  EXPECT_GE(lines, 3);
  EXPECT_TRUE(metric_rises_above(cli, "ax_requests_cancelled_total", cancelled_before));
  EXPECT_TRUE(engine_drains(cli)) << "KV blocks still in use after the client hung up";
}

TEST_F(OllamaServer, LoadRequestsAnswerDone) {
  auto cli = server_->client();
  int status = 0;
  const json g = post_json(cli, "/api/generate", {{"model", "ax-code-15m"}}, &status);
  ASSERT_EQ(status, 200) << g.dump();
  EXPECT_EQ(g["done"], true);
  EXPECT_EQ(g["done_reason"], "load");
  const json c = post_json(cli, "/api/chat", {{"model", "ax-code-15m"}, {"messages", json::array()}, {"keep_alive", "10m"}},
                           &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(c["done_reason"], "load");
}

TEST_F(OllamaServer, EmbedAndTheOlderEmbeddings) {
  auto cli = server_->client();
  int status = 0;
  const json e = post_json(cli, "/api/embed", {{"model", "ax-code-15m"}, {"input", {"def f(x):", "import os"}}}, &status);
  ASSERT_EQ(status, 200) << e.dump();
  ASSERT_EQ(e["embeddings"].size(), 2u);
  const json info = json::parse(cli.Get("/info")->body);
  const size_t hidden = info["model"]["hidden_size"].get<size_t>();
  double norm = 0;
  for (double x : e["embeddings"][0]) norm += x * x;
  EXPECT_EQ(e["embeddings"][0].size(), hidden);
  EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-4);
  EXPECT_GT(e["prompt_eval_count"].get<int64_t>(), 2);
  EXPECT_TRUE(e["total_duration"].is_number_integer());
  // The same vector as /v1/embeddings and the older /api/embeddings give.
  const json openai = post_json(cli, "/v1/embeddings", {{"input", "def f(x):"}});
  const json older = post_json(cli, "/api/embeddings", {{"model", "coder"}, {"prompt", "def f(x):"}}, &status);
  ASSERT_EQ(status, 200) << older.dump();
  for (size_t i = 0; i < hidden; i += 37) {
    EXPECT_NEAR(e["embeddings"][0][i].get<double>(), openai["data"][0]["embedding"][i].get<double>(), 1e-5);
    EXPECT_NEAR(older["embedding"][i].get<double>(), openai["data"][0]["embedding"][i].get<double>(), 1e-5);
  }
  EXPECT_EQ(post_json(cli, "/api/embed", {{"model", "coder"}, {"input", "x"}, {"dimensions", 3}}, &status).contains("error"), true);
  EXPECT_EQ(status, 400);
}

TEST_F(OllamaServer, TagsShowPsVersion) {
  auto cli = server_->client();
  const json tags = json::parse(cli.Get("/api/tags")->body);
  ASSERT_EQ(tags["models"].size(), 2u) << tags.dump();
  EXPECT_EQ(tags["models"][0]["name"], "ax-code-15m");
  EXPECT_EQ(tags["models"][1]["name"], "coder");
  const json& d = tags["models"][0]["details"];
  EXPECT_EQ(d["format"], "safetensors");
  EXPECT_EQ(d["family"], "qwen3");
  EXPECT_TRUE(std::regex_match(d["parameter_size"].get<std::string>(), std::regex(R"(\d+\.\dM)"))) << d.dump();
  EXPECT_GT(tags["models"][0]["size"].get<int64_t>(), 1'000'000);

  int status = 0;
  const json show = post_json(cli, "/api/show", {{"model", "coder"}}, &status);
  ASSERT_EQ(status, 200) << show.dump();
  EXPECT_NE(show["template"].get<std::string>().find("im_start"), std::string::npos);
  EXPECT_EQ(show["model_info"]["general.architecture"], "qwen3");
  EXPECT_GT(show["model_info"]["qwen3.embedding_length"].get<int64_t>(), 0);
  EXPECT_EQ(show["capabilities"], json({"completion", "tools"}));
  EXPECT_EQ(post_json(cli, "/api/show", {{"name", "ax-code-15m"}}, &status)["details"], d);  // the older field

  const json ps = json::parse(cli.Get("/api/ps")->body);
  ASSERT_EQ(ps["models"].size(), 2u);
  EXPECT_GT(ps["models"][0]["size"].get<int64_t>(), tags["models"][0]["size"].get<int64_t>());  // weights + KV
  EXPECT_EQ(ps["models"][0]["size_vram"], 0);  // the CPU backend
  EXPECT_GT(ps["models"][0]["context_length"].get<int64_t>(), 0);

  const json version = json::parse(cli.Get("/api/version")->body);
  EXPECT_TRUE(std::regex_match(version["version"].get<std::string>(), std::regex(R"(\d+\.\d+\.\d+)")));
}

class OllamaThinkingServer : public SharedServer<OllamaThinkingServer> {
 public:
  static std::string model() { return thinking_model(); }
  static std::vector<std::string> flags() { return {}; }
};

TEST_F(OllamaThinkingServer, ThinkSplitsTheThought) {
  auto cli = server_->client();
  const std::string id = json::parse(cli.Get("/v1/models")->body)["data"][0]["id"];
  const json hi = json::array({{{"role", "user"}, {"content", "hi"}}});
  int status = 0;
  const json r = post_json(cli, "/api/chat",
                           {{"model", id}, {"messages", hi}, {"stream", false}, {"think", true},
                            {"options", {{"temperature", 0}, {"num_predict", 16}}}},
                           &status);
  ASSERT_EQ(status, 200) << r.dump();
  // The template opened "<think>" and the tiny model never closes it: all of it is thought.
  ASSERT_TRUE(r["message"].contains("thinking")) << r.dump();
  EXPECT_EQ(r["message"]["content"], "");
  EXPECT_EQ(r["message"]["thinking"].get<std::string>().find("<think>"), std::string::npos);
  // Streamed, the thought comes in "thinking" pieces that add up to the same.
  auto [sstatus, raw] = post_stream(cli, "/api/chat", {{"model", id}, {"messages", hi}, {"think", true},
                                                       {"options", {{"temperature", 0}, {"num_predict", 16}}}});
  ASSERT_EQ(sstatus, 200);
  std::string thought;
  for (const json& l : ndjson(raw.substr(0, raw.size() - 1)))
    if (l["message"].contains("thinking")) thought += l["message"]["thinking"].get<std::string>();
  EXPECT_EQ(thought, r["message"]["thinking"]);
  // think: false turns the template's thinking off: no thought.
  const json off = post_json(cli, "/api/chat",
                             {{"model", id}, {"messages", hi}, {"stream", false}, {"think", false},
                              {"options", {{"temperature", 0}, {"num_predict", 16}}}});
  EXPECT_FALSE(off["message"].contains("thinking")) << off.dump();
  const json g = post_json(cli, "/api/generate",
                           {{"model", id}, {"prompt", "hi"}, {"stream", false}, {"options", {{"temperature", 0}, {"num_predict", 8}}}});
  EXPECT_TRUE(g.contains("thinking")) << g.dump();
  const json show = post_json(cli, "/api/show", {{"model", id}});
  EXPECT_EQ(show["capabilities"], json({"completion", "tools", "thinking"}));
}

}  // namespace
}  // namespace ax::test
