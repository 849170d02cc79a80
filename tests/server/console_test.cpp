// The web console's routes: its files served from the binary, /info, /requests, --no-console, and
// the key asked of a browser. (The page itself runs in Chromium: tests/console.)
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "server/sse_client.h"
#include "server_process.h"
#include "shared_server.h"
#include "test_support.h"

namespace ax::test {
namespace {

using nlohmann::json;

std::string code_model() { return source_dir() + "/models/ax-code-15m"; }

std::string read_source(const std::string& rel) {
  std::ifstream f(source_dir() + "/" + rel, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string header(const httplib::Result& res, const char* name) {
  return res && res->has_header(name) ? res->get_header_value(name) : std::string();
}

class ConsoleServer : public SharedServer<ConsoleServer> {
 public:
  static std::string model() { return code_model(); }
  static std::vector<std::string> flags() { return {}; }
};

// Every file of src/server/console is served byte for byte, with its type and a strict CSP.
TEST_F(ConsoleServer, ServesItsFilesFromTheBinary) {
  auto cli = server_->client();
  auto page = cli.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->body, read_source("src/server/console/index.html"));
  EXPECT_EQ(header(page, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(header(page, "Content-Security-Policy"), "default-src 'self'; img-src 'self' data:");
  for (const char* file : {"console.js", "charts.js", "metrics.js", "playground.js", "console.css"}) {
    auto res = cli.Get(std::string("/console/") + file);
    ASSERT_TRUE(res) << file;
    EXPECT_EQ(res->status, 200) << file;
    EXPECT_EQ(res->body, read_source(std::string("src/server/console/") + file)) << file;
    const bool css = std::string(file).ends_with(".css");
    EXPECT_EQ(header(res, "Content-Type"), css ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8");
  }
  auto missing = cli.Get("/console/nope.js");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(json::parse(missing->body)["error"]["code"], "not_found");
  EXPECT_EQ(cli.Get("/console/../CMakeLists.txt")->status, 404);
}

TEST_F(ConsoleServer, InfoDescribesTheModel) {
  auto cli = server_->client();
  auto res = cli.Get("/info");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json info = json::parse(res->body);
  EXPECT_EQ(info["model"]["id"], "ax-code-15m");
  EXPECT_EQ(info["model"]["chat_template"], true);
  EXPECT_GT(info["model"]["num_layers"].get<int>(), 0);
  EXPECT_GT(info["model"]["vocab_size"].get<int>(), 0);
  json models = json::parse(cli.Get("/v1/models")->body);
  EXPECT_EQ(info["engine"]["max_context"], models["data"][0]["max_model_len"]);
  EXPECT_TRUE(info["engine"]["backend"].get<std::string>().starts_with("cpu"));
  EXPECT_EQ(info["engine"]["speculation"], "ngram");
}

// A stream in flight is listed with its route, prompt and growing token count; once it ends it is gone.
TEST_F(ConsoleServer, RequestsListsWhatRuns) {
  auto cli = server_->client();
  EXPECT_EQ(json::parse(cli.Get("/requests")->body)["data"], json::array());
  std::atomic<int> seen{0};
  std::atomic<bool> release{false};
  std::thread streamer([&] {
    auto c = server_->client();
    server::post_sse(c, "/v1/generate/stream", {{"input_tokens", {1, 2, 3, 4, 5}}, {"max_output_tokens", 1500},
                                                {"ignore_eos", true}},
                     [&](const json&) {
                       ++seen;
                       return !release.load();  // hang up once the listing was checked
                     });
  });
  json row;
  for (int i = 0; i < 400 && row.is_null(); ++i) {
    json data = json::parse(cli.Get("/requests")->body)["data"];
    if (!data.empty() && data[0]["completion_tokens"].get<int>() >= 3) row = data[0];
    else std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  release = true;
  streamer.join();
  ASSERT_FALSE(row.is_null()) << "the stream never showed up in /requests";
  EXPECT_EQ(row["route"], "/v1/generate/stream");
  EXPECT_EQ(row["prompt_tokens"], 5);
  EXPECT_EQ(row["choices"], 1);
  EXPECT_FALSE(row["id"].get<std::string>().empty());
  EXPECT_GT(row["age_s"].get<double>(), 0);
  EXPECT_TRUE(row["ttft_s"].is_number());
  bool gone = false;
  for (int i = 0; i < 400 && !gone; ++i) {
    gone = json::parse(cli.Get("/requests")->body)["data"].empty();
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_TRUE(gone) << "the request stayed listed after its client left";
}

TEST(ConsoleOptions, NoConsoleServesNoPage) {
  std::signal(SIGPIPE, SIG_IGN);
  ServerProcess server(code_model(), {"--no-console"});
  auto cli = server.client();
  EXPECT_EQ(cli.Get("/")->status, 404);
  EXPECT_EQ(cli.Get("/console/console.js")->status, 404);
  EXPECT_EQ(cli.Get("/info")->status, 200);  // the data routes stay for other clients
  EXPECT_EQ(server.stop(), 0);
}

// Behind --api-key the page asks the browser for the key (HTTP Basic); the key as a Basic password
// opens it and every route the page reads.
TEST(ConsoleOptions, ApiKeyIsAskedOfTheBrowser) {
  std::signal(SIGPIPE, SIG_IGN);
  ServerProcess server(code_model(), {"--api-key", "sekret"});
  auto cli = server.client();
  auto page = cli.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 401);
  EXPECT_EQ(header(page, "WWW-Authenticate"), "Basic realm=\"ax-engine\", charset=\"UTF-8\"");
  // API routes answer 401 without the challenge: a script, not a person, is calling them.
  auto api = cli.Get("/v1/models");
  EXPECT_EQ(api->status, 401);
  EXPECT_EQ(header(api, "WWW-Authenticate"), "");
  cli.set_basic_auth("console", "sekret");
  EXPECT_EQ(cli.Get("/")->status, 200);
  EXPECT_EQ(cli.Get("/console/console.js")->status, 200);
  EXPECT_EQ(cli.Get("/info")->status, 200);
  EXPECT_EQ(cli.Get("/requests")->status, 200);
  cli.set_basic_auth("console", "wrong");
  EXPECT_EQ(cli.Get("/")->status, 401);
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace ax::test
