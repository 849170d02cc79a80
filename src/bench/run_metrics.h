#pragma once
// From the records of a run to the numbers in metrics.json: latency distributions (TTFT, ITL,
// end-to-end; p50/p90/p95/p99 with linear interpolation between ranks), prefill and decode
// speeds, aggregate throughput, token accounting, prefix hits, KV use, evictions, preemptions,
// speculation. Every name is in metric_catalog(); a metric the target does not report is null.
//
//   metrics.json = {"runs": [summary of each repeat], "summary": {name: median over repeats},
//                   "spread": {name: {"min", "max"}}, "repeats": n}
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/run_record.h"

namespace ax::bench {

// The p-th percentile (0..100) of values, linearly interpolated between closest ranks; 0 when empty.
double percentile(std::vector<double> values, double p);
double median(std::vector<double> values);

// Per-request latency samples of one run (ms): TTFT of requests that got a token, ITL (each
// token after the first; tokens arriving together share their gap), end-to-end of finished ones.
struct LatencySamples {
  std::vector<double> ttft, itl, e2e;
};
LatencySamples latency_samples(const RunRecord& run);

// One run's summary: {metric name: value or null}.
nlohmann::json run_summary(const RunRecord& run);
// The whole metrics.json for the repeats of one manifest.
nlohmann::json metrics_document(const std::vector<RunRecord>& runs);

}  // namespace ax::bench
