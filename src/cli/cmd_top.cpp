// `ax-engine top --url URL`: a running server's live numbers in a terminal, refreshed every second
// like htop, for servers reached over SSH: the model and readiness, throughput (with a sparkline of
// the last minute), time to first token, queue, KV pool, prefix-cache hits, speculation, and the
// requests in flight. The same sources as the web console: GET /health, /info, /metrics and
// /requests. q or Ctrl-C quits; --once prints one frame (two scrapes --interval apart) and exits.
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "server/httplib_config.h"
#include "server/metrics.h"
#include "util/error.h"

namespace ax::cli {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct TopOptions {
  std::string url = "http://127.0.0.1:8080";
  std::string api_key;
  double interval_s = 1.0;
  bool once = false;
};

// One look at the server.
struct Scrape {
  Clock::time_point at;
  bool reachable = false;
  std::string health = "unreachable";  // "ok", "loading", "shutting_down", ...
  std::string metrics;                 // Prometheus text
  json requests = json::array();       // GET /requests' data
  std::string error;                   // why a route failed, when one did
};

class Server {
 public:
  explicit Server(const TopOptions& o) : cli_(o.url) {
    cli_.set_connection_timeout(2);
    cli_.set_read_timeout(5);
    if (!o.api_key.empty()) cli_.set_bearer_token_auth(o.api_key);
  }

  Scrape scrape() {
    Scrape s;
    s.at = Clock::now();
    auto health = cli_.Get("/health");
    if (!health) {
      s.error = fmt::format("cannot reach the server ({})", httplib::to_string(health.error()));
      return s;
    }
    s.reachable = true;
    json h = json::parse(health->body, nullptr, false);
    s.health = h.is_object() && h.contains("status") && h["status"].is_string() ? h["status"].get<std::string>()
                                                                               : fmt::format("HTTP {}", health->status);
    if (auto m = cli_.Get("/metrics"); m && m->status == 200) s.metrics = m->body;
    if (auto r = cli_.Get("/requests"); r && r->status == 200) {
      json body = json::parse(r->body, nullptr, false);
      if (body.is_object() && body.contains("data")) s.requests = body["data"];
    } else if (r) {
      s.error = r->status == 401 ? "401 from /requests: give the server's key with --api-key (or AX_API_KEY)"
                                 : fmt::format("/requests answered {}", r->status);
    }
    return s;
  }

  std::optional<json> info() {
    auto r = cli_.Get("/info");
    if (!r || r->status != 200) return std::nullopt;
    json j = json::parse(r->body, nullptr, false);
    return j.is_discarded() ? std::nullopt : std::optional<json>(j);
  }

 private:
  httplib::Client cli_;
};

double sample(const Scrape& s, const std::string& name) {
  return server::prometheus_value(s.metrics, name).value_or(0);
}

// What a counter gained between two scrapes.
double gain(const Scrape& a, const Scrape& b, const std::string& name) { return sample(b, name) - sample(a, name); }

// One counter's gain over another's; nothing when the second did not move.
std::optional<double> ratio(const Scrape& a, const Scrape& b, const std::string& num, const std::string& den) {
  const double d = gain(a, b, den);
  if (d <= 0) return std::nullopt;
  return gain(a, b, num) / d;
}

std::string percent(std::optional<double> v) { return v ? fmt::format("{:.0f}%", 100 * *v) : "-"; }

std::string millis(std::optional<double> s) {
  if (!s) return "-";
  return *s < 1 ? fmt::format("{:.0f} ms", 1000 * *s) : fmt::format("{:.2f} s", *s);
}

// The last minute as block characters, scaled to its own maximum.
std::string sparkline(const std::deque<double>& values) {
  static const char* const kBlocks[] = {" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  double max = 0;
  for (double v : values) max = std::max(max, v);
  std::string out;
  for (double v : values) out += kBlocks[max > 0 ? static_cast<int>(v / max * 8 + 0.5) : 0];
  return out;
}

int terminal_width() {
  winsize w{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 20) return w.ws_col;
  return 100;
}

std::string fit(std::string line, size_t width) {
  // Cut on a character boundary (the sparkline is UTF-8): drop continuation bytes at the cut.
  if (line.size() <= width) return line;
  size_t cut = width;
  while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
  return line.substr(0, cut);
}

// One screen: the header, the numbers between the last two scrapes, the requests in flight.
std::string frame(const TopOptions& o, const std::optional<json>& info, const Scrape& prev, const Scrape& now,
                  const std::deque<double>& throughput, int width) {
  std::vector<std::string> lines;
  std::string model = "(model loading)";
  if (info) {
    const json& m = (*info)["model"];
    const json& e = (*info)["engine"];
    model = fmt::format("{} ({}, {})", m.value("id", "?"), m.value("architecture", "?"), e.value("backend", "?"));
  }
  lines.push_back(fmt::format("ax-engine top  {}  {}  [{}]", o.url, model, now.health == "ok" ? "ready" : now.health));
  if (!now.error.empty()) lines.push_back("! " + now.error);
  lines.emplace_back();
  const double seconds = std::chrono::duration<double>(now.at - prev.at).count();
  const double tps = seconds > 0 ? gain(prev, now, "ax_engine_generated_tokens_total") / seconds : 0;
  lines.push_back(fmt::format("  throughput   {:>9.0f} tok/s   {}", tps, sparkline(throughput)));
  lines.push_back(fmt::format("  TTFT         {:>9}         (mean over the last {:.0f} s)",
                              millis(ratio(prev, now, "ax_time_to_first_token_seconds_sum",
                                           "ax_time_to_first_token_seconds_count")),
                              seconds));
  lines.push_back(fmt::format("  queue        {:>9.0f} waiting {:.0f} running", sample(now, "ax_requests_waiting"),
                              sample(now, "ax_requests_running")));
  lines.push_back(fmt::format("  KV pool      {:>9}         ({:.0f} of {:.0f} blocks in use, {:.0f} cached)",
                              fmt::format("{:.1f}%", 100 * sample(now, "ax_kv_cache_usage_ratio")),
                              sample(now, "ax_kv_blocks_used"), sample(now, "ax_kv_blocks_total"),
                              sample(now, "ax_kv_blocks_cached")));
  lines.push_back(fmt::format("  prefix hits  {:>9}         (overall {})",
                              percent(ratio(prev, now, "ax_prefix_cache_hit_tokens_total", "ax_engine_prompt_tokens_total")),
                              percent(sample(now, "ax_prefix_cache_hit_ratio"))));
  lines.push_back(fmt::format("  speculation  {:>9}         (overall {} of drafted tokens accepted)",
                              percent(ratio(prev, now, "ax_spec_accepted_tokens_total", "ax_spec_drafted_tokens_total")),
                              percent(sample(now, "ax_spec_acceptance_ratio"))));
  lines.push_back(fmt::format("  generated    {:>9.0f} tokens since start, {:.0f} requests cancelled",
                              sample(now, "ax_engine_generated_tokens_total"), sample(now, "ax_requests_cancelled_total")));
  lines.emplace_back();
  lines.push_back(fmt::format("  {:<24} {:<22} {:>8} {:>8} {:>7} {:>9}", "REQUEST", "ROUTE", "AGE", "TTFT", "PROMPT",
                              "GENERATED"));
  if (now.requests.empty()) lines.emplace_back("  (none in flight)");
  for (const json& r : now.requests) {
    const std::optional<double> ttft =
        r.contains("ttft_s") && r["ttft_s"].is_number() ? std::optional<double>(r["ttft_s"].get<double>()) : std::nullopt;
    lines.push_back(fmt::format("  {:<24} {:<22} {:>6.1f} s {:>8} {:>7} {:>9}", r.value("id", ""), r.value("route", ""),
                                r.value("age_s", 0.0), millis(ttft), r.value("prompt_tokens", 0),
                                r.value("completion_tokens", 0)));
  }
  lines.emplace_back();
  lines.emplace_back(o.once ? "" : "  q quits");
  std::string out;
  for (auto& l : lines) out += fit(l, static_cast<size_t>(width)) + "\n";
  return out;
}

std::atomic<bool> stop_requested{false};

// The terminal in raw, no-echo mode on the alternate screen while it lives (keys read one at a
// time for q); restored on the way out, however the loop ends.
class Screen {
 public:
  Screen() {
    interactive_ = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    if (!interactive_) return;
    tcgetattr(STDIN_FILENO, &saved_);
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    std::fputs("\x1b[?1049h\x1b[?25l", stdout);  // alternate screen, cursor hidden
  }
  ~Screen() {
    if (!interactive_) return;
    std::fputs("\x1b[?25h\x1b[?1049l", stdout);
    std::fflush(stdout);
    tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  void draw(const std::string& text) {
    if (interactive_) std::fputs("\x1b[H\x1b[J", stdout);  // home, clear
    std::fputs(text.c_str(), stdout);
    if (!interactive_) std::fputs("\n", stdout);  // frames one after another in a log
    std::fflush(stdout);
  }
  // Waits up to `timeout` for q (true) or a stop signal.
  bool wait_for_quit(std::chrono::milliseconds timeout) {
    const auto until = Clock::now() + timeout;
    while (!stop_requested.load()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{STDIN_FILENO, POLLIN, 0};
      if (interactive_ && poll(&p, 1, static_cast<int>(left)) > 0) {
        char c = 0;
        if (read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q')) return true;
      } else if (!interactive_) {
        usleep(static_cast<useconds_t>(std::min<long long>(left, 100) * 1000));
      }
    }
    return true;
  }

 private:
  bool interactive_ = false;
  termios saved_{};
};

int run_top(const TopOptions& o) {
  struct sigaction sa{};
  sa.sa_handler = [](int) { stop_requested = true; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  Server server(o);
  const auto interval = std::chrono::milliseconds(static_cast<int64_t>(o.interval_s * 1000));
  std::optional<json> info;
  std::deque<double> throughput;
  Scrape prev = server.scrape();
  if (o.once) {
    std::this_thread::sleep_for(interval);
    Scrape now = server.scrape();
    if (!now.reachable) fail("--url {}: {}", o.url, now.error);
    if (now.health == "ok") info = server.info();
    const double s = std::chrono::duration<double>(now.at - prev.at).count();
    throughput.push_back(gain(prev, now, "ax_engine_generated_tokens_total") / s);
    std::fputs(frame(o, info, prev, now, throughput, terminal_width()).c_str(), stdout);
    return 0;
  }
  Screen screen;
  while (!screen.wait_for_quit(interval)) {
    Scrape now = server.scrape();
    if (!info && now.health == "ok") info = server.info();
    const double s = std::chrono::duration<double>(now.at - prev.at).count();
    throughput.push_back(s > 0 && prev.reachable && now.reachable
                             ? gain(prev, now, "ax_engine_generated_tokens_total") / s : 0);
    if (throughput.size() > 60) throughput.pop_front();
    screen.draw(frame(o, info, prev, now, throughput, terminal_width()));
    prev = std::move(now);
  }
  return 0;
}

const RegisterCommand kTop{
    "top", "A running server's live numbers in the terminal (refreshing, like htop)",
    [](CLI::App& sub) -> CommandRun {
      auto o = std::make_shared<TopOptions>();
      sub.add_option("--url", o->url, "The server")->capture_default_str();
      sub.add_option("--api-key", o->api_key, "The server's key (default: AX_API_KEY)");
      sub.add_option("--interval", o->interval_s, "Seconds between refreshes")
          ->check(CLI::Range(0.1, 3600.0))
          ->capture_default_str();
      sub.add_flag("--once", o->once, "Print one frame (two scrapes --interval apart) and exit");
      return [o]() {
        if (o->api_key.empty())
          if (const char* env = std::getenv("AX_API_KEY")) o->api_key = env;
        return run_top(*o);
      };
    }};

}  // namespace
}  // namespace ax::cli
