#include "bench/compare.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <regex>
#include <set>

#include "bench/checks.h"
#include "util/error.h"

namespace ax::bench {

using nlohmann::json;

double parse_regression_limit(const std::string& text) {
  static const std::regex re(R"(\s*([0-9]+(\.[0-9]+)?)\s*(%?)\s*)");
  std::smatch m;
  if (std::regex_match(text, m, re)) {
    const double v = std::stod(m[1]);
    if (m[3] == "%") return v / 100.0;
    if (v < 1) return v;
  }
  fail("--max-regression must be a percentage like 5% or a fraction below 1 like 0.05 (got \"{}\")", text);
}

const char* to_string(DeltaVerdict v) {
  switch (v) {
    case DeltaVerdict::Ok: return "ok";
    case DeltaVerdict::Improved: return "improved";
    case DeltaVerdict::Regression: return "REGRESSION";
    case DeltaVerdict::NotComparable: return "n/a";
  }
  return "?";
}

std::vector<std::string> manifest_differences(const json& a, const json& b) {
  std::set<std::string> paths;
  for (const json& op : json::diff(a, b)) paths.insert(op.value("path", "?"));
  return {paths.begin(), paths.end()};
}

namespace {

std::optional<double> number_at(const json& obj, const std::string& key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number()) return std::nullopt;
  return obj[key].get<double>();
}

std::optional<double> spread_at(const json& metrics, const std::string& key, const char* which) {
  const json& s = metrics.value("spread", json::object());
  if (!s.contains(key)) return std::nullopt;
  return number_at(s[key], which);
}

std::string fmt_num(const std::optional<double>& v) {
  if (!v) return "n/a";
  return std::abs(*v) >= 1e4 ? fmt::format("{:.0f}", *v) : fmt::format("{:.4g}", *v);
}

std::string fmt_range(const std::optional<double>& lo, const std::optional<double>& hi) {
  if (!lo || !hi || *lo == *hi) return "";
  return fmt_num(lo) + "-" + fmt_num(hi);
}

}  // namespace

Comparison compare_artifacts(const Artifact& base, const Artifact& cand, const CompareOptions& o) {
  Comparison c;
  c.base_dir = base.dir;
  c.cand_dir = cand.dir;
  c.base_label = base.label();
  c.cand_label = cand.label();
  c.max_regression = o.max_regression;
  c.manifest_differences = manifest_differences(base.manifest, cand.manifest);
  c.cand_checks = cand.metrics.value("checks", json::array());
  const std::vector<std::string>& names = o.metrics.empty() ? default_compare_metrics() : o.metrics;
  bool regressed = false;
  for (const std::string& name : names) {
    const MetricInfo* info = find_metric(name);
    if (!info) fail("--metrics: unknown metric \"{}\" (docs/BENCH.md lists them)", name);
    MetricDelta d;
    d.name = name;
    d.better = info->better;
    d.base = number_at(base.metrics.value("summary", json::object()), name);
    d.cand = number_at(cand.metrics.value("summary", json::object()), name);
    d.base_min = spread_at(base.metrics, name, "min");
    d.base_max = spread_at(base.metrics, name, "max");
    d.cand_min = spread_at(cand.metrics, name, "min");
    d.cand_max = spread_at(cand.metrics, name, "max");
    auto rel_spread = [](const std::optional<double>& lo, const std::optional<double>& hi, const std::optional<double>& mid) {
      return lo && hi && mid && *mid != 0 ? (*hi - *lo) / std::abs(*mid) : 0.0;
    };
    d.spread = std::max(rel_spread(d.base_min, d.base_max, d.base), rel_spread(d.cand_min, d.cand_max, d.cand));
    if (d.base && d.cand && *d.base != 0) {
      d.change = (*d.cand - *d.base) / std::abs(*d.base);
      if (info->better == Better::Neither) {
        d.verdict = DeltaVerdict::NotComparable;
      } else {
        const double worse = info->better == Better::Higher ? -*d.change : *d.change;
        d.verdict = worse > o.max_regression ? DeltaVerdict::Regression
                    : worse < -o.max_regression ? DeltaVerdict::Improved
                                                : DeltaVerdict::Ok;
      }
    }
    regressed = regressed || d.verdict == DeltaVerdict::Regression;
    c.rows.push_back(d);
  }
  if (!base.runs.empty() && !cand.runs.empty()) {
    c.outputs = compare_outputs(base.runs[0], cand.runs[0]);
    if (const auto& m = c.outputs.first) {
      const std::string id = m->request < cand.request_ids.size() ? cand.request_ids[m->request] : std::to_string(m->request);
      c.first_difference = fmt::format("request {} differs at output position {}: {} in the candidate, {} in the base", id,
                                       m->position, m->got, m->expected);
    }
  }
  const bool outputs_differ = o.require_same_outputs && c.outputs.identical != c.outputs.compared;
  c.exit_code = !c.manifest_differences.empty() && !o.allow_manifest_diff ? kExitManifest
                : outputs_differ                                           ? kExitCheckFailed
                : regressed                                                ? kExitThresholdMissed
                                                                           : kExitOk;
  return c;
}

std::string comparison_markdown(const Comparison& c) {
  std::string s = "# Comparison\n\n";
  s += fmt::format("- base: `{}` ({})\n- candidate: `{}` ({})\n", c.base_dir, c.base_label, c.cand_dir, c.cand_label);
  s += fmt::format("- limit: a metric may be at most {:.1f}% worse (in its own direction) than the base's median\n",
                   c.max_regression * 100);
  if (c.manifest_differences.empty()) {
    s += "- manifests: identical\n";
  } else {
    s += "- manifests DIFFER at:";
    for (const auto& p : c.manifest_differences) s += " `" + p + "`";
    s += "\n";
  }
  s += fmt::format("- outputs (run 0 of each): {} of {} requests identical{}\n", c.outputs.identical, c.outputs.compared,
                   c.first_difference.empty() ? "" : "; first difference: " + c.first_difference);
  s += "\n| metric | base | candidate | change | base spread | candidate spread | verdict |\n|---|---|---|---|---|---|---|\n";
  for (const MetricDelta& d : c.rows) {
    std::string verdict = to_string(d.verdict);
    if (d.verdict != DeltaVerdict::NotComparable && d.spread > c.max_regression)
      verdict += fmt::format(" (runs spread {:.0f}%, more than the limit)", d.spread * 100);
    s += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", d.name, fmt_num(d.base), fmt_num(d.cand),
                     d.change ? fmt::format("{:+.1f}%", *d.change * 100) : "n/a", fmt_range(d.base_min, d.base_max),
                     fmt_range(d.cand_min, d.cand_max), verdict);
  }
  if (c.cand_checks.is_array() && !c.cand_checks.empty()) {
    s += "\nThe candidate's own checks (its manifest):\n\n| check | result | detail |\n|---|---|---|\n";
    for (const json& ch : c.cand_checks)
      s += fmt::format("| {} | {} | {} |\n", ch.value("name", ""), ch.value("status", ""), ch.value("detail", ""));
  }
  const int regressions = static_cast<int>(
      std::count_if(c.rows.begin(), c.rows.end(), [](const MetricDelta& d) { return d.verdict == DeltaVerdict::Regression; }));
  s += fmt::format("\nVerdict: {} (exit {}).\n",
                   c.exit_code == kExitManifest      ? "not comparable: the manifests differ"
                   : c.exit_code == kExitCheckFailed ? "the outputs differ"
                   : regressions                     ? fmt::format("{} regression{}", regressions, regressions == 1 ? "" : "s")
                                                     : "no regression",
                   c.exit_code);
  return s;
}

}  // namespace ax::bench
