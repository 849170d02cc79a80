// Bounded load: 64 concurrent streaming clients against one server for a fixed time (AX_LOAD_SECONDS,
// default 20), a quarter of the requests hanging up early. Every stream that was not abandoned must
// be complete and well-formed, nothing may fail, the KV cache must be empty afterwards, and the
// server's RSS must not grow between the middle and the end of the run.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <random>
#include <thread>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "server/sse_client.h"
#include "server_process.h"
#include "test_support.h"

namespace ax::test {
namespace {

using server::post_sse;
using server::SseResult;

using nlohmann::json;

struct Counts {
  std::atomic<int> completed{0}, abandoned{0}, failed{0}, retried{0};
  std::mutex mu;
  std::vector<std::string> failures;
  void fail(std::string why) {
    ++failed;
    std::lock_guard lock(mu);
    if (failures.size() < 10) failures.push_back(std::move(why));
  }
};

// One client's request: a token stream or an OpenAI completion stream, maybe abandoned.
void one_request(httplib::Client& cli, std::mt19937& rng, Counts& counts) {
  const bool generate_route = rng() % 2 == 0;
  const bool hang_up = rng() % 4 == 0;
  const int hang_after = 1 + static_cast<int>(rng() % 8);
  const int max_tokens = 16 + static_cast<int>(rng() % 160);
  const bool ignore_eos = rng() % 2 == 0;
  int seen = 0;
  auto on_event = [&](const json&) { return !hang_up || ++seen < hang_after; };
  const json body = generate_route
                        ? json{{"input_text", "Once upon a time"}, {"max_output_tokens", max_tokens},
                               {"ignore_eos", ignore_eos}, {"sampling", {{"temperature", 0.8}, {"seed", rng()}}}}
                        : json{{"prompt", "Lily and Tim went to the park."}, {"max_tokens", max_tokens},
                               {"ignore_eos", ignore_eos}, {"stream", true},
                               {"stream_options", {{"include_usage", true}}}};
  const char* path = generate_route ? "/v1/generate/stream" : "/v1/completions";
  SseResult s = post_sse(cli, path, body, on_event);
  // A request that got no response at all (no status, nothing read) on a reused keep-alive
  // connection is retried once on a fresh one, as HTTP clients (the openai SDK included) do with
  // stale connections; a second failure counts.
  if (!s.transport_ok && s.status == 0 && s.raw.empty() && seen == 0) {
    ++counts.retried;
    s = post_sse(cli, path, body, on_event);
  }
  if (hang_up && seen >= hang_after) {
    ++counts.abandoned;
    return;
  }
  if (!s.transport_ok || s.status != 200) return counts.fail(fmt::format("status {} transport {}", s.status, s.transport_ok));
  if (!s.done || s.malformed || s.events.empty()) return counts.fail("stream incomplete or malformed: " + s.raw.substr(0, 300));
  for (auto& e : s.events)
    if (e.contains("error")) return counts.fail("error event: " + e.dump());
  int tokens = 0, finishes = 0;
  json usage;
  if (generate_route) {
    for (auto& e : s.events) {
      tokens += static_cast<int>(e["tokens"].size());
      if (e.contains("finish_reason")) {
        ++finishes;
        usage = e["usage"];
      }
    }
  } else {
    for (auto& e : s.events) {
      if (e["choices"].empty()) usage = e["usage"];
      for (auto& c : e["choices"])
        if (!c["finish_reason"].is_null()) ++finishes;
    }
    tokens = usage.is_object() ? usage["completion_tokens"].get<int>() : -1;
  }
  if (finishes != 1) return counts.fail(fmt::format("{} finish events", finishes));
  if (!usage.is_object() || usage["completion_tokens"] != tokens || tokens < 1 || tokens > max_tokens)
    return counts.fail(fmt::format("usage {} vs {} tokens (max {})", usage.dump(), tokens, max_tokens));
  if (ignore_eos && tokens != max_tokens) return counts.fail(fmt::format("ignore_eos: {} of {} tokens", tokens, max_tokens));
  ++counts.completed;
}

TEST(ServerLoad, SixtyFourStreamingClientsWithHangUps) {
  std::signal(SIGPIPE, SIG_IGN);
  const char* env = std::getenv("AX_LOAD_SECONDS");
  const double seconds = env ? std::atof(env) : 20.0;
  ServerProcess server(source_dir() + "/models/stories260K/stories260K.gguf");
  const auto start = std::chrono::steady_clock::now();
  const auto stop_at = start + std::chrono::duration<double>(seconds);
  Counts counts;
  std::vector<std::thread> clients;
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  for (int c = 0; c < 64; ++c)
    clients.emplace_back([&, c] {
      std::mt19937 rng(seed + c);
      auto cli = server.client(60);
      while (std::chrono::steady_clock::now() < stop_at) one_request(cli, rng, counts);
    });
  // RSS at the middle (warm: pools sized, caches filled) and at the end.
  std::this_thread::sleep_until(start + std::chrono::duration<double>(seconds / 2));
  const int64_t rss_mid = proc_status(server.pid(), "VmRSS");
  for (auto& t : clients) t.join();
  auto cli = server.client();
  bool drained = false;
  for (int i = 0; i < 400 && !drained; ++i) {
    drained = metric(cli, "ax_kv_blocks_used") == 0 && metric(cli, "ax_requests_running") == 0 &&
              metric(cli, "ax_requests_waiting") == 0 && metric(cli, "ax_http_requests_in_flight") == 0;
    if (!drained) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const int64_t rss_end = proc_status(server.pid(), "VmRSS");
  std::printf("load: %d completed, %d abandoned, %d retried, %d failed in %.0f s; RSS %lld kB mid, %lld kB end\n",
              counts.completed.load(), counts.abandoned.load(), counts.retried.load(), counts.failed.load(), seconds,
              static_cast<long long>(rss_mid), static_cast<long long>(rss_end));
  for (auto& f : counts.failures) ADD_FAILURE() << f;
  EXPECT_EQ(counts.failed.load(), 0);
  EXPECT_GT(counts.completed.load(), 64);
  EXPECT_GT(counts.abandoned.load(), 0);
  EXPECT_TRUE(drained) << "KV blocks or requests still live after the load";
  EXPECT_GT(metric(cli, "ax_requests_cancelled_total"), 0);
  EXPECT_LE(rss_end, rss_mid + rss_mid / 4 + 16 * 1024) << "RSS grew under steady load";
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace ax::test
