#pragma once
// `bench compare BASE CAND`: two artifact folders of the same manifest (two builds, two machines,
// or two engines through --url). Per metric: both medians, the spread of each side's repeats, the
// relative change, and a verdict against --max-regression in the metric's own direction (a
// throughput that fell, a latency that rose). Exit code: 0 no regression, 4 a regression beyond
// the limit, 2 the manifests differ (unless allowed: the differences are listed). It also compares
// every request's output (run 0 of each side); with --require-same-outputs a difference exits 3
// (batch invariance: one manifest at concurrency 1 and 64 must give the same tokens).
#include <optional>
#include <string>
#include <vector>

#include "bench/artifacts.h"
#include "bench/checks.h"
#include "bench/metric_catalog.h"

namespace ax::bench {

struct CompareOptions {
  double max_regression = 0.05;      // fraction
  std::vector<std::string> metrics;  // empty: default_compare_metrics()
  bool allow_manifest_diff = false;
  bool require_same_outputs = false;  // a request whose output differs (run 0 of each) fails: exit 3
};

// "5%" -> 0.05, "0.05" -> 0.05; an ax::Error naming --max-regression otherwise.
double parse_regression_limit(const std::string& text);

enum class DeltaVerdict { Ok, Improved, Regression, NotComparable };
const char* to_string(DeltaVerdict v);

struct MetricDelta {
  std::string name;
  Better better = Better::Neither;
  std::optional<double> base, cand;              // medians
  std::optional<double> base_min, base_max, cand_min, cand_max;
  std::optional<double> change;                  // (cand - base) / base
  double spread = 0;                             // the larger relative spread (max - min) / median of both sides
  DeltaVerdict verdict = DeltaVerdict::NotComparable;
};

struct Comparison {
  std::string base_dir, cand_dir, base_label, cand_label;
  std::vector<std::string> manifest_differences;  // JSON-pointer paths that differ
  std::vector<MetricDelta> rows;
  nlohmann::json cand_checks;  // the candidate's own checks (metrics.json)
  OutputAgreement outputs;     // run 0 of each side, request by request
  std::string first_difference;  // one sentence, "" when none
  double max_regression = 0;
  int exit_code = 0;
};

// The paths at which two resolved manifests differ.
std::vector<std::string> manifest_differences(const nlohmann::json& a, const nlohmann::json& b);
Comparison compare_artifacts(const Artifact& base, const Artifact& cand, const CompareOptions& o);
std::string comparison_markdown(const Comparison& c);

}  // namespace ax::bench
