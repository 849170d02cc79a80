// Faults, against a real server: the model file changed under it (renamed over, rewritten in
// place, truncated), the KV pool exhausted by long prompts, SIGTERM under load, a fatal signal
// (its report names the running requests) and the access log. Each ends in a defined state,
// never an unexplained crash.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_helpers.h"
#include "server/sse_client.h"
#include "server_process.h"
#include "test_support.h"

namespace ax::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using server::post_sse;
using server::SseResult;

json post(httplib::Client& cli, const std::string& path, const json& body, int* status) {
  auto res = cli.Post(path.c_str(), body.dump(), "application/json");
  *status = res ? res->status : -1;
  return res ? json::parse(res->body, nullptr, false) : json();
}

// A private copy of a model, so the test can change it.
struct ModelCopy {
  explicit ModelCopy(const std::string& from) {
    dir = fs::path(testing::TempDir()) / ("ax_fault_" + std::to_string(getpid()) + "_" + std::to_string(counter()++));
    fs::remove_all(dir);
    fs::create_directories(dir);
    path = dir / fs::path(from).filename();
    fs::copy(from, path, fs::copy_options::recursive);
  }
  ~ModelCopy() { fs::remove_all(dir); }
  static int& counter() {
    static int n = 0;
    return n;
  }
  fs::path dir, path;
};

std::string stories() { return source_dir() + "/models/stories260K/stories260K.gguf"; }

// Waits until /health answers `status`.
bool health_becomes(httplib::Client& cli, int status, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    auto h = cli.Get("/health");
    if (h && h->status == status) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// Replacing the file the right way (a new file renamed over it) is harmless: the server keeps the
// file it mapped, says so once, and serves on.
TEST(ServerFaults, ModelFileRenamedOverKeepsServing) {
  std::signal(SIGPIPE, SIG_IGN);
  ModelCopy m(stories());
  ServerProcess server(m.path.string());
  fs::copy_file(stories(), m.dir / "new.gguf");
  fs::rename(m.dir / "new.gguf", m.path);
  auto cli = server.client();
  std::this_thread::sleep_for(std::chrono::milliseconds(2600));  // the watch looks every 2 s
  int status = 0;
  post(cli, "/v1/completions", {{"prompt", "Once"}, {"max_tokens", 4}}, &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(cli.Get("/health")->status, 200);
  EXPECT_NE(server.stderr_text().find("was replaced or removed on disk"), std::string::npos) << server.stderr_text();
  EXPECT_EQ(server.stop(), 0);
}

// Rewritten in place (same inode): the weights under the server are no longer what it loaded, so
// it refuses generation (503 model_file_changed) and /health says why, until restarted.
TEST(ServerFaults, ModelFileRewrittenInPlaceStopsGeneration) {
  std::signal(SIGPIPE, SIG_IGN);
  ModelCopy m(stories());
  ServerProcess server(m.path.string());
  {
    int fd = open(m.path.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    const std::string junk(4096, 'x');
    ASSERT_EQ(pwrite(fd, junk.data(), junk.size(), static_cast<off_t>(fs::file_size(m.path) / 2)), 4096);
    close(fd);
  }
  auto cli = server.client();
  ASSERT_TRUE(health_becomes(cli, 503, 6));
  json h = json::parse(cli.Get("/health")->body);
  EXPECT_EQ(h["status"], "model_file_changed");
  EXPECT_NE(h["detail"].get<std::string>().find("rewritten in place"), std::string::npos);
  int status = 0;
  json r = post(cli, "/v1/completions", {{"prompt", "Once"}, {"max_tokens", 4}}, &status);
  EXPECT_EQ(status, 503);
  EXPECT_EQ(r["error"]["code"], "model_file_changed");
  EXPECT_EQ(server.stop(), 0);
}

// Truncated while a request reads it: reads past the new end fault. The server either notices
// first (503, as above) or, when a running request faults, says what happened and exits with
// status 3. It never dies by an unexplained signal.
TEST(ServerFaults, ModelFileTruncatedUnderLoadEndsInAClearState) {
  std::signal(SIGPIPE, SIG_IGN);
  ModelCopy m(source_dir() + "/models/ax-code-15m");
  ServerProcess server(m.path.string());
  std::atomic<bool> streaming{false};
  std::thread load([&] {
    auto c = server.client(10);
    post_sse(c, "/v1/generate/stream", {{"input_text", "def"}, {"max_output_tokens", 1900}, {"ignore_eos", true}},
             [&](const json&) {
               streaming = true;
               return true;
             });
  });
  while (!streaming) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  for (const auto& f : fs::directory_iterator(m.path))
    if (f.path().extension() == ".safetensors") fs::resize_file(f.path(), 0);
  auto cli = server.client(5);
  bool noticed = false;
  auto alive = [&] {  // without reaping it: stop() collects the status
    siginfo_t info{};
    return waitid(P_PID, server.pid(), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
  };
  for (int i = 0; i < 60 && !noticed && alive(); ++i) {
    auto h = cli.Get("/health");
    noticed = h && h->status == 503;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  load.join();
  const int exit_code = server.stop();
  EXPECT_FALSE(WIFSIGNALED(server.wait_status())) << server.stderr_text();
  std::printf("truncation: %s\n", noticed ? "noticed by the watch (503)" : "a running request faulted (exit 3)");
  if (noticed) {
    EXPECT_EQ(exit_code, 0);
  } else {
    EXPECT_EQ(exit_code, 3);
    EXPECT_NE(server.stderr_text().find("was truncated while the server was using it"), std::string::npos)
        << server.stderr_text();
  }
}

// Long prompts that together exceed the KV pool: they queue (and preempt one another when they
// were admitted together) and all finish; one that can never fit is a 400 saying so.
TEST(ServerFaults, KvPoolExhaustedByLongPrompts) {
  std::signal(SIGPIPE, SIG_IGN);
  // 1 MB of f16 KV on ax-code-15m: 256 tokens in all.
  ServerProcess server(source_dir() + "/models/ax-code-15m", {"--kv-memory-mb", "1"});
  auto cli = server.client();
  int status = 0;
  std::string never;
  for (int i = 0; i < 300; ++i) never += "alpha beta ";
  json r = post(cli, "/v1/completions", {{"prompt", never}, {"max_tokens", 4}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(r["error"]["code"], "context_length_exceeded");
  std::string long_prompt;
  for (int i = 0; i < 12; ++i) long_prompt += "def f():\n    return 1\n";
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i)
    clients.emplace_back([&, i] {
      auto c = server.client();
      int s = 0;
      json out = post(c, "/v1/completions", {{"prompt", long_prompt + std::to_string(i)}, {"max_tokens", 120}, {"ignore_eos", true}}, &s);
      ok += s == 200 && out["usage"]["completion_tokens"] == 120;
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok, 8);
  // How they shared the pool (queueing, preemption) depends on timing; that all finish does not.
  std::printf("preemptions: %.0f\n", metric(cli, "ax_engine_preemptions_total"));
  // Every block comes back (the last answer can reach the client a moment before its blocks are freed).
  EXPECT_TRUE(engine_drains(cli)) << "KV blocks used: " << metric(cli, "ax_kv_blocks_used");
  EXPECT_EQ(server.stop(), 0);
}

// SIGTERM with 24 clients mid-request: new work gets 503, running requests get the grace period
// then are cancelled (streams end with an error event and [DONE]); every answer is well formed
// and the server exits 0.
TEST(ServerFaults, SigtermUnderLoadIsGraceful) {
  std::signal(SIGPIPE, SIG_IGN);
  ServerProcess server(source_dir() + "/models/ax-code-15m", {"--shutdown-grace", "1"});
  std::atomic<int> started{0}, well_formed{0}, broken{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 24; ++i)
    clients.emplace_back([&, i] {
      auto c = server.client(30);
      const json body = {{"input_text", "def"}, {"max_output_tokens", 1500}, {"ignore_eos", true}};
      if (i % 2 == 0) {
        SseResult s = post_sse(c, "/v1/generate/stream", body, [&](const json&) {
          static thread_local bool counted = false;
          if (!counted) ++started;
          counted = true;
          return true;
        });
        if (s.status == 503 || (s.status == 200 && s.done && !s.malformed)) ++well_formed;
        else ++broken;
      } else {
        ++started;
        auto res = c.Post("/v1/generate", body.dump(), "application/json");
        if (res && (res->status == 200 || res->status == 503) && !json::parse(res->body, nullptr, false).is_discarded())
          ++well_formed;
        else
          ++broken;
      }
    });
  while (started < 24) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  server.terminate();
  for (auto& t : clients) t.join();
  EXPECT_EQ(server.stop(), 0);
  EXPECT_EQ(well_formed, 24);
  EXPECT_EQ(broken, 0);
}

// A fatal signal is reported on stderr with the ids of the requests running, then the process
// dies by that signal as before.
TEST(ServerFaults, FatalSignalNamesTheRunningRequests) {
  std::signal(SIGPIPE, SIG_IGN);
  ServerProcess server(source_dir() + "/models/ax-code-15m");
  std::string request_id;
  std::atomic<bool> streaming{false};
  std::thread load([&] {
    auto c = server.client(10);
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/generate/stream";
    req.body = R"({"input_text": "def", "max_output_tokens": 1900, "ignore_eos": true})";
    req.set_header("Content-Type", "application/json");
    req.response_handler = [&](const httplib::Response& r) {
      request_id = r.get_header_value("X-Request-Id");
      return true;
    };
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
      streaming = true;
      return true;
    };
    c.send(req);
  });
  while (!streaming) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_FALSE(request_id.empty());
  kill(server.pid(), SIGSEGV);
  load.join();
  server.stop();
  EXPECT_TRUE(WIFSIGNALED(server.wait_status()) && WTERMSIG(server.wait_status()) == SIGSEGV);
  const std::string err = server.stderr_text();
  EXPECT_NE(err.find("fatal signal SIGSEGV"), std::string::npos) << err;
  EXPECT_NE(err.find("requests running: " + request_id), std::string::npos) << err;
}

// --log-requests: one line per request with the peer, request line, status, bytes, time and id.
TEST(ServerFaults, AccessLogOneLinePerRequest) {
  std::signal(SIGPIPE, SIG_IGN);
  ServerProcess server(stories(), {"--log-requests"});
  auto cli = server.client();
  auto h = cli.Get("/health");
  ASSERT_TRUE(h);
  int status = 0;
  post(cli, "/v1/completions", {{"prompt", "Once"}, {"max_tokens", 2}}, &status);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const std::string err = server.stderr_text();
  EXPECT_NE(err.find("\"GET /health\" 200"), std::string::npos) << err;
  EXPECT_NE(err.find("\"POST /v1/completions\" 200"), std::string::npos) << err;
  EXPECT_NE(err.find("id=" + h->get_header_value("X-Request-Id")), std::string::npos) << err;
}

}  // namespace
}  // namespace ax::test
