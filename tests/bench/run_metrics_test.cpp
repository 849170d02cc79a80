// From request records to metrics (bench/run_metrics.h): percentiles, latency samples, the
// summary's numbers on records whose answers are known, and the median/spread over repeats.
#include <gtest/gtest.h>

#include "bench/metric_catalog.h"
#include "bench/run_metrics.h"

namespace ax::bench {
namespace {

using nlohmann::json;

TEST(RunMetrics, PercentilesInterpolateBetweenRanks) {
  const std::vector<double> v = {5, 1, 4, 2, 3};
  EXPECT_DOUBLE_EQ(percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(percentile(v, 50), 3);
  EXPECT_DOUBLE_EQ(percentile(v, 90), 4.6);
  EXPECT_DOUBLE_EQ(percentile(v, 100), 5);
  EXPECT_DOUBLE_EQ(percentile({7}, 99), 7);
  EXPECT_DOUBLE_EQ(percentile({}, 50), 0);
  EXPECT_DOUBLE_EQ(median({1, 2, 3, 10}), 2.5);
}

// A request sent at `submit`, tokens arriving at the given (time, count) pairs.
RequestRecord request(double submit, std::vector<TokenArrival> arrivals, int64_t prompt, int64_t cached) {
  RequestRecord r;
  r.submit_ms = submit;
  r.arrivals = arrivals;
  r.first_token_ms = arrivals.front().t_ms;
  r.finish_ms = arrivals.back().t_ms;
  for (const auto& a : arrivals) r.completion_tokens += a.count;
  r.prompt_tokens = prompt;
  r.cached_tokens = cached;
  r.finish_reason = "length";
  return r;
}

TEST(RunMetrics, TokensArrivingTogetherShareTheirGap) {
  RunRecord run;
  run.requests = {request(0, {{10, 2}, {16, 3}, {17, 1}}, 8, 0)};
  const LatencySamples s = latency_samples(run);
  EXPECT_EQ(s.ttft, (std::vector<double>{10}));
  EXPECT_EQ(s.itl, (std::vector<double>{0, 2, 2, 2, 1}));
  EXPECT_EQ(s.e2e, (std::vector<double>{17}));
}

TEST(RunMetrics, SummaryOfKnownRecords) {
  RunRecord run;
  // a: 100 prompt tokens (20 cached) in 40 ms to the first token, then 9 more tokens in 90 ms.
  run.requests.push_back(request(0, {{40, 1}, {130, 9}}, 100, 20));
  // b: 50 prompt tokens in 100 ms, 5 more tokens in 50 ms; c: cancelled before its first token.
  run.requests.push_back(request(100, {{200, 1}, {250, 5}}, 50, 0));
  RequestRecord c;
  c.submit_ms = 10;
  c.finish_ms = 20;
  c.finish_reason = "cancelled";
  c.prompt_tokens = 30;
  run.requests.push_back(c);
  run.totals.kv_blocks_total = 100;
  run.totals.kv_blocks_peak_used = 25;
  run.totals.spec_drafted = 10;
  run.totals.spec_accepted = 4;
  const json s = run_summary(run);
  EXPECT_EQ(s["requests"], 3);
  EXPECT_EQ(s["requests_ok"], 2);
  EXPECT_EQ(s["requests_cancelled"], 1);
  EXPECT_DOUBLE_EQ(s["wall_s"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(s["prefill_tok_s"].get<double>(), (2000.0 + 500.0) / 2);  // 80/0.04 and 50/0.1
  EXPECT_DOUBLE_EQ(s["decode_tok_s"].get<double>(), 100.0);                  // 9/0.09 and 5/0.05
  EXPECT_DOUBLE_EQ(s["throughput_tok_s"].get<double>(), 16 / 0.25);
  EXPECT_DOUBLE_EQ(s["total_tok_s"].get<double>(), (180 - 20 + 16) / 0.25);
  EXPECT_DOUBLE_EQ(s["prefix_hit_rate"].get<double>(), 20.0 / 180);
  EXPECT_DOUBLE_EQ(s["kv_peak_usage"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(s["spec_acceptance_rate"].get<double>(), 0.4);
  EXPECT_DOUBLE_EQ(s["ttft_p50_ms"].get<double>(), 70);
  EXPECT_DOUBLE_EQ(s["e2e_max_ms"].get<double>(), 150);
  EXPECT_TRUE(s["peak_rss_mb"].is_null()) << "not reported: null, not 0";
  EXPECT_TRUE(s["steps"].is_null());
  for (const MetricInfo& m : metric_catalog()) EXPECT_TRUE(s.contains(m.name)) << m.name;
}

TEST(RunMetrics, DocumentTakesTheMedianAndSpreadOfRepeats) {
  std::vector<RunRecord> runs(3);
  const double firsts[] = {10, 30, 20};
  for (int k = 0; k < 3; ++k) {
    runs[k].repeat = k;
    runs[k].requests = {request(0, {{firsts[k], 1}, {firsts[k] + 10, 1}}, 4, 0)};
  }
  const json doc = metrics_document(runs);
  EXPECT_EQ(doc["runs"].size(), 3u);
  EXPECT_DOUBLE_EQ(doc["summary"]["ttft_p50_ms"].get<double>(), 20);
  EXPECT_DOUBLE_EQ(doc["spread"]["ttft_p50_ms"]["min"].get<double>(), 10);
  EXPECT_DOUBLE_EQ(doc["spread"]["ttft_p50_ms"]["max"].get<double>(), 30);
  EXPECT_TRUE(doc["summary"]["peak_rss_mb"].is_null());
  EXPECT_EQ(doc["repeats"], 3);
}

}  // namespace
}  // namespace ax::bench
