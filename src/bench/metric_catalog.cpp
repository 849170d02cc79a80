#include "bench/metric_catalog.h"

namespace ax::bench {
namespace {

std::vector<MetricInfo> build() {
  std::vector<MetricInfo> m = {
      {"requests", "", Better::Neither, "requests in the workload"},
      {"requests_ok", "", Better::Neither, "requests that finished (stop or length)"},
      {"requests_cancelled", "", Better::Neither, "requests cancelled by the workload"},
      {"requests_failed", "", Better::Lower, "requests that ended in an error"},
      {"wall_s", "s", Better::Lower, "first submit to last finish"},
      {"prefill_tok_s", "tok/s", Better::Higher,
       "median over requests of prompt tokens computed (not cached) / TTFT"},
      {"decode_tok_s", "tok/s", Better::Higher,
       "median over requests of (output tokens - 1) / (finish - first token)"},
      {"throughput_tok_s", "tok/s", Better::Higher, "output tokens of all requests / wall time"},
      {"total_tok_s", "tok/s", Better::Higher, "(prompt tokens computed + output tokens) / wall time"},
      {"requests_per_s", "req/s", Better::Higher, "finished requests / wall time"},
      {"prompt_tokens", "", Better::Neither, "prompt tokens of all requests"},
      {"cached_tokens", "", Better::Neither, "prompt tokens served from the prefix cache"},
      {"output_tokens", "", Better::Neither, "tokens generated"},
      {"prefix_hit_rate", "", Better::Higher, "cached_tokens / prompt_tokens"},
      {"peak_rss_mb", "MB", Better::Lower, "peak resident memory of the engine's process during the run"},
      {"kv_blocks_total", "", Better::Neither, "KV blocks in the pool"},
      {"kv_blocks_peak_used", "", Better::Neither, "most KV blocks in use at once"},
      {"kv_peak_usage", "", Better::Neither, "kv_blocks_peak_used / kv_blocks_total"},
      {"prefix_evictions", "", Better::Neither, "cached prefix blocks evicted to make room"},
      {"preemptions", "", Better::Lower, "sequences preempted (recomputed later) for lack of KV blocks"},
      {"spec_drafted_tokens", "", Better::Neither, "n-gram draft tokens verified"},
      {"spec_accepted_tokens", "", Better::Neither, "draft tokens accepted (decode steps saved)"},
      {"spec_acceptance_rate", "", Better::Higher, "spec_accepted_tokens / spec_drafted_tokens"},
      {"steps", "", Better::Neither, "engine steps (forward passes)"},
      {"mean_step_rows", "", Better::Neither, "rows per forward pass"},
      {"mean_step_ms", "ms", Better::Neither, "time per engine step"},
  };
  const struct {
    const char* base;
    const char* what;
  } latencies[] = {{"ttft", "time to first token: submit to the first output token"},
                   {"itl", "inter-token latency: gap between output tokens (tokens arriving together share it)"},
                   {"e2e", "end-to-end latency: submit to finish"}};
  for (const auto& l : latencies)
    for (const char* stat : {"p50", "p90", "p95", "p99", "mean", "max"})
      m.push_back({std::string(l.base) + "_" + stat + "_ms", "ms", Better::Lower, std::string(stat) + " " + l.what});
  return m;
}

}  // namespace

const std::vector<MetricInfo>& metric_catalog() {
  static const std::vector<MetricInfo> all = build();
  return all;
}

const MetricInfo* find_metric(const std::string& name) {
  for (const auto& m : metric_catalog())
    if (m.name == name) return &m;
  return nullptr;
}

const std::vector<std::string>& default_compare_metrics() {
  static const std::vector<std::string> names = {
      "throughput_tok_s", "total_tok_s", "decode_tok_s", "prefill_tok_s", "ttft_p50_ms", "ttft_p99_ms",
      "itl_p50_ms",       "itl_p99_ms",  "e2e_p50_ms",   "e2e_p99_ms",    "peak_rss_mb"};
  return names;
}

}  // namespace ax::bench
