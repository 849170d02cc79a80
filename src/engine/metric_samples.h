#pragma once
// The engine's metrics snapshot as named samples, under the names Prometheus scrapes from the
// server's /metrics (ax_requests_running, ax_kv_cache_usage_ratio, ...). One list, so the server,
// the Python package's Engine.metrics() and anything reading /metrics agree on every name.
#include <string>
#include <vector>

#include "engine/metrics.h"

namespace ax {

struct MetricSample {
  std::string name;
  std::string help;
  std::string type;  // "gauge" or "counter"
  double value = 0;
};

std::vector<MetricSample> metric_samples(const EngineMetrics& m);

}  // namespace ax
