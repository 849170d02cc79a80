#include "bench/run_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "bench/metric_catalog.h"

namespace ax::bench {

using nlohmann::json;

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

double median(std::vector<double> v) { return percentile(std::move(v), 50); }

LatencySamples latency_samples(const RunRecord& run) {
  LatencySamples s;
  for (const RequestRecord& r : run.requests) {
    if (r.first_token_ms >= 0) s.ttft.push_back(r.first_token_ms - r.submit_ms);
    if (r.ok()) s.e2e.push_back(r.finish_ms - r.submit_ms);
    for (size_t k = 0; k < r.arrivals.size(); ++k) {
      const TokenArrival& a = r.arrivals[k];
      if (k == 0) {
        for (int32_t j = 1; j < a.count; ++j) s.itl.push_back(0);  // arrived with the first token
        continue;
      }
      const double gap = (a.t_ms - r.arrivals[k - 1].t_ms) / a.count;
      for (int32_t j = 0; j < a.count; ++j) s.itl.push_back(gap);
    }
  }
  return s;
}

namespace {

void add_latency(json& out, const std::string& base, const std::vector<double>& v) {
  for (const auto& [stat, p] : {std::pair{"p50", 50.0}, {"p90", 90.0}, {"p95", 95.0}, {"p99", 99.0}})
    out[base + "_" + stat + "_ms"] = v.empty() ? json() : json(percentile(v, p));
  if (v.empty()) {
    out[base + "_mean_ms"] = json();
    out[base + "_max_ms"] = json();
    return;
  }
  double sum = 0;
  for (double x : v) sum += x;
  out[base + "_mean_ms"] = sum / static_cast<double>(v.size());
  out[base + "_max_ms"] = *std::max_element(v.begin(), v.end());
}

template <typename T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json();
}

}  // namespace

json run_summary(const RunRecord& run) {
  json s;
  int64_t ok = 0, cancelled = 0, failed = 0, prompt = 0, cached = 0, output = 0;
  double first_submit = std::numeric_limits<double>::infinity(), last_finish = 0;
  std::vector<double> prefill_rates, decode_rates;
  for (const RequestRecord& r : run.requests) {
    ok += r.ok();
    cancelled += r.finish_reason == "cancelled";
    failed += r.finish_reason == "error";
    prompt += r.prompt_tokens;
    cached += r.cached_tokens;
    output += r.completion_tokens;
    if (r.submit_ms >= 0) first_submit = std::min(first_submit, r.submit_ms);
    last_finish = std::max(last_finish, r.finish_ms);
    if (r.first_token_ms > r.submit_ms && r.prompt_tokens > r.cached_tokens)
      prefill_rates.push_back((r.prompt_tokens - r.cached_tokens) / ((r.first_token_ms - r.submit_ms) / 1e3));
    if (r.ok() && r.completion_tokens >= 2 && r.finish_ms > r.first_token_ms)
      decode_rates.push_back((r.completion_tokens - 1) / ((r.finish_ms - r.first_token_ms) / 1e3));
  }
  const double wall_s = std::isfinite(first_submit) ? std::max(1e-9, (last_finish - first_submit) / 1e3) : 0;
  s["requests"] = static_cast<int64_t>(run.requests.size());
  s["requests_ok"] = ok;
  s["requests_cancelled"] = cancelled;
  s["requests_failed"] = failed;
  s["wall_s"] = wall_s;
  s["prefill_tok_s"] = prefill_rates.empty() ? json() : json(median(prefill_rates));
  s["decode_tok_s"] = decode_rates.empty() ? json() : json(median(decode_rates));
  s["throughput_tok_s"] = wall_s > 0 ? json(output / wall_s) : json();
  s["total_tok_s"] = wall_s > 0 ? json((prompt - cached + output) / wall_s) : json();
  s["requests_per_s"] = wall_s > 0 ? json(ok / wall_s) : json();
  s["prompt_tokens"] = prompt;
  s["cached_tokens"] = cached;
  s["output_tokens"] = output;
  s["prefix_hit_rate"] = prompt ? json(static_cast<double>(cached) / prompt) : json();
  const EngineTotals& t = run.totals;
  s["peak_rss_mb"] = opt(t.peak_rss_mb);
  s["kv_blocks_total"] = opt(t.kv_blocks_total);
  s["kv_blocks_peak_used"] = opt(t.kv_blocks_peak_used);
  s["kv_peak_usage"] = t.kv_blocks_total && t.kv_blocks_peak_used && *t.kv_blocks_total > 0
                           ? json(static_cast<double>(*t.kv_blocks_peak_used) / *t.kv_blocks_total)
                           : json();
  s["prefix_evictions"] = opt(t.prefix_evictions);
  s["preemptions"] = opt(t.preemptions);
  s["spec_drafted_tokens"] = opt(t.spec_drafted);
  s["spec_accepted_tokens"] = opt(t.spec_accepted);
  s["spec_acceptance_rate"] = t.spec_drafted && t.spec_accepted && *t.spec_drafted > 0
                                  ? json(static_cast<double>(*t.spec_accepted) / *t.spec_drafted)
                                  : json();
  if (run.steps.empty()) {
    s["steps"] = json();
    s["mean_step_rows"] = json();
    s["mean_step_ms"] = json();
  } else {
    double rows = 0, ms = 0;
    for (const StepSample& st : run.steps) rows += st.prefill_rows + st.decode_rows, ms += st.dur_ms;
    const double n = static_cast<double>(run.steps.size());
    s["steps"] = static_cast<int64_t>(run.steps.size());
    s["mean_step_rows"] = rows / n;
    s["mean_step_ms"] = ms / n;
  }
  const LatencySamples lat = latency_samples(run);
  add_latency(s, "ttft", lat.ttft);
  add_latency(s, "itl", lat.itl);
  add_latency(s, "e2e", lat.e2e);
  return s;
}

json metrics_document(const std::vector<RunRecord>& runs) {
  json doc;
  doc["runs"] = json::array();
  for (const RunRecord& r : runs) doc["runs"].push_back(run_summary(r));
  json summary = json::object(), spread = json::object();
  for (const MetricInfo& m : metric_catalog()) {
    std::vector<double> v;
    for (const json& r : doc["runs"])
      if (r.contains(m.name) && r[m.name].is_number()) v.push_back(r[m.name].get<double>());
    if (v.empty()) {
      summary[m.name] = json();
      continue;
    }
    summary[m.name] = median(v);
    spread[m.name] = {{"min", *std::min_element(v.begin(), v.end())}, {"max", *std::max_element(v.begin(), v.end())}};
  }
  doc["summary"] = summary;
  doc["spread"] = spread;
  doc["repeats"] = static_cast<int64_t>(runs.size());
  doc["percentiles"] = "linear interpolation between closest ranks";
  return doc;
}

}  // namespace ax::bench
