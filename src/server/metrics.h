#pragma once
// Prometheus metrics in the text exposition format (version 0.0.4). Counters and histograms are
// updated lock-free from the HTTP threads; gauges that describe the engine (queue depth, KV usage,
// prefix hits, speculation) are read from its snapshot at scrape time and passed to render().
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/metric_samples.h"

namespace ax::server {

// Fixed-bucket histogram of seconds.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double seconds);
  // "name_bucket{le=...} n" lines, then _sum and _count.
  void render(std::string& out, const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<uint64_t>> counts_;  // [bounds + 1]: the last is +Inf
  std::atomic<uint64_t> sum_micros_{0};
  std::atomic<uint64_t> count_{0};
};

// One sample of a gauge or counter owned elsewhere (the engine), for render().
using ExternalMetric = MetricSample;

class ServerMetrics {
 public:
  ServerMetrics();

  // One finished HTTP request: its route and status code.
  void count_request(const std::string& route, int status);
  void add_prompt_tokens(int64_t n) { prompt_tokens_ += n; }
  void add_generation_tokens(int64_t n) { generation_tokens_ += n; }
  void add_cached_tokens(int64_t n) { cached_tokens_ += n; }
  void observe_ttft(double seconds) { ttft_.observe(seconds); }
  void observe_inter_token(double seconds) { inter_token_.observe(seconds); }
  void observe_request_duration(double seconds) { duration_.observe(seconds); }
  void count_cancelled() { cancelled_++; }
  void set_in_flight_delta(int delta) { in_flight_ += delta; }

  std::string render(const std::vector<ExternalMetric>& engine) const;

 private:
  mutable std::mutex requests_mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::atomic<int64_t> prompt_tokens_{0}, generation_tokens_{0}, cached_tokens_{0}, cancelled_{0};
  std::atomic<int64_t> in_flight_{0};
  Histogram ttft_, inter_token_, duration_;
};

// The value of the first sample named `name` (labels included in the name, if any) in a
// Prometheus text exposition; nothing when absent. Clients (bench, tests) read /metrics with it.
std::optional<double> prometheus_value(const std::string& text, const std::string& name);

}  // namespace ax::server
