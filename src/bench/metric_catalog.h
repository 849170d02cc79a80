#pragma once
// The names of a run's summary metrics (metrics.json "summary"): what thresholds may name, what
// `bench compare` reports, and which way is better. One list, so a manifest naming a metric that
// no run produces is refused before anything runs.
#include <string>
#include <vector>

namespace ax::bench {

enum class Better { Higher, Lower, Neither };

struct MetricInfo {
  std::string name;
  std::string unit;
  Better better;
  std::string meaning;
};

// Every summary metric, in report order. Latency metrics come as <base>_{p50,p90,p95,p99,mean,max}_ms.
const std::vector<MetricInfo>& metric_catalog();
const MetricInfo* find_metric(const std::string& name);
// The metrics `bench compare` gives a verdict on by default.
const std::vector<std::string>& default_compare_metrics();

}  // namespace ax::bench
