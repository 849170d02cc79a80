#include "server/metrics.h"

#include <cmath>

#include <fmt/core.h>

namespace ax::server {
namespace {

std::string format_value(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

void header(std::string& out, const std::string& name, const std::string& help, const char* type) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1) {}

void Histogram::observe(double seconds) {
  size_t i = 0;
  while (i < bounds_.size() && seconds > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(std::max(0.0, seconds) * 1e6), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  header(out, name, help, "histogram");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    std::string le = i < bounds_.size() ? format_value(bounds_[i]) : "+Inf";
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, le, cumulative);
  }
  out += fmt::format("{}_sum {}\n", name, format_value(sum_micros_.load() / 1e6));
  out += fmt::format("{}_count {}\n", name, count_.load());
}

ServerMetrics::ServerMetrics()
    : ttft_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      inter_token_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}),
      duration_({0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300}) {}

void ServerMetrics::count_request(const std::string& route, int status) {
  std::lock_guard lock(requests_mutex_);
  ++requests_[{route, status}];
}

std::string ServerMetrics::render(const std::vector<ExternalMetric>& engine) const {
  std::string out;
  header(out, "ax_http_requests_total", "HTTP requests served, by route and status code.", "counter");
  {
    std::lock_guard lock(requests_mutex_);
    for (auto& [key, n] : requests_)
      out += fmt::format("ax_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", key.first, key.second, n);
  }
  header(out, "ax_http_requests_in_flight", "Generation requests being served now.", "gauge");
  out += fmt::format("ax_http_requests_in_flight {}\n", in_flight_.load());
  header(out, "ax_prompt_tokens_total", "Prompt tokens of finished generation requests.", "counter");
  out += fmt::format("ax_prompt_tokens_total {}\n", prompt_tokens_.load());
  header(out, "ax_prompt_cached_tokens_total", "Prompt tokens served from the prefix cache.", "counter");
  out += fmt::format("ax_prompt_cached_tokens_total {}\n", cached_tokens_.load());
  header(out, "ax_generation_tokens_total", "Tokens generated.", "counter");
  out += fmt::format("ax_generation_tokens_total {}\n", generation_tokens_.load());
  header(out, "ax_requests_cancelled_total", "Generation requests cancelled (client gone).", "counter");
  out += fmt::format("ax_requests_cancelled_total {}\n", cancelled_.load());
  ttft_.render(out, "ax_time_to_first_token_seconds", "Time from request arrival to its first token.");
  inter_token_.render(out, "ax_inter_token_latency_seconds", "Time between consecutive tokens of a request.");
  duration_.render(out, "ax_request_duration_seconds", "Time from request arrival to its last token.");
  for (const ExternalMetric& m : engine) {
    header(out, m.name, m.help, m.type.c_str());
    out += fmt::format("{} {}\n", m.name, format_value(m.value));
  }
  return out;
}

std::optional<double> prometheus_value(const std::string& text, const std::string& name) {
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    if (text.compare(at, name.size(), name) == 0 && at + name.size() < end && text[at + name.size()] == ' ') {
      try {
        return std::stod(text.substr(at + name.size() + 1, end - at - name.size() - 1));
      } catch (const std::exception&) {
        return std::nullopt;
      }
    }
    at = end + 1;
  }
  return std::nullopt;
}

}  // namespace ax::server
