#include "bench/plots.h"

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "bench/run_metrics.h"
#include "bench/svg_chart.h"
#include "util/error.h"

namespace ax::bench {
namespace {

using nlohmann::json;

// The empirical CDF as steps; beyond kMaxPoints samples, at kMaxPoints evenly spaced ranks (the
// largest included), which a chart cannot tell apart and keeps the SVG small.
std::vector<std::pair<double, double>> cdf(std::vector<double> v) {
  constexpr size_t kMaxPoints = 1000;
  std::sort(v.begin(), v.end());
  std::vector<std::pair<double, double>> pts;
  if (v.empty()) return pts;
  pts.push_back({v.front(), 0.0});
  const size_t n = v.size(), stride = (n + kMaxPoints - 1) / kMaxPoints;
  for (size_t i = 0; i < n; i += stride) pts.push_back({v[i], static_cast<double>(i + 1) / static_cast<double>(n)});
  if ((n - 1) % stride != 0) pts.push_back({v.back(), 1.0});
  return pts;
}

// Each artifact's legend label; labels that would repeat get the artifact's index ("[1]").
std::vector<std::string> labels_of(const std::vector<Artifact>& arts) {
  std::map<std::string, int> count;
  for (const Artifact& a : arts) ++count[a.label()];
  std::vector<std::string> out;
  for (size_t i = 0; i < arts.size(); ++i)
    out.push_back(count[arts[i].label()] > 1 ? fmt::format("{} [{}]", arts[i].label(), i) : arts[i].label());
  return out;
}

Chart latency_cdf(const std::vector<Artifact>& arts, const std::vector<std::string>& labels, const std::string& what,
                  const std::string& title, std::vector<double> LatencySamples::*member) {
  Chart c{title, what + " (ms)", "fraction of samples", {}};
  for (size_t i = 0; i < arts.size(); ++i) {
    const Artifact& a = arts[i];
    std::vector<double> all;
    for (const RunRecord& run : a.runs) {
      const LatencySamples s = latency_samples(run);
      const std::vector<double>& v = s.*member;
      all.insert(all.end(), v.begin(), v.end());
    }
    c.series.push_back({labels[i], cdf(all), SeriesStyle::Step});
  }
  return c;
}

// Artifacts of one manifest family (the id without a matrix's "-concurrencyN") and target.
Chart throughput_vs_concurrency(const std::vector<Artifact>& arts) {
  std::map<std::string, std::vector<std::pair<double, double>>> lines;
  static const std::regex suffix("-concurrency[0-9]+");
  for (const Artifact& a : arts) {
    const json& shape = a.manifest.value("shape", json());
    const json& tp = a.metrics.value("summary", json::object()).value("throughput_tok_s", json());
    if (!shape.is_object() || !tp.is_number()) continue;
    const std::string family = std::regex_replace(a.manifest.value("id", "?"), suffix, "");
    const std::string target = a.environment.value("target", json::object()).value("name", "");
    lines[family + (target.empty() ? "" : " (" + target + ")")].push_back(
        {shape.value("concurrency", 1.0), tp.get<double>()});
  }
  Chart c{"Output throughput vs concurrency", "concurrency (requests in flight)", "output tokens/s (median of runs)", {}};
  for (auto& [label, pts] : lines) {
    std::sort(pts.begin(), pts.end());
    c.series.push_back({label, pts, SeriesStyle::LineMarkers});
  }
  return c;
}

Chart ttft_over_time(const std::vector<Artifact>& arts, const std::vector<std::string>& labels) {
  Chart c{"Time to first token over the run (run 0)", "submit time (s)", "TTFT (ms)", {}};
  for (size_t i = 0; i < arts.size(); ++i) {
    const Artifact& a = arts[i];
    Series s{labels[i], {}, SeriesStyle::Markers};
    if (!a.runs.empty())
      for (const RequestRecord& r : a.runs[0].requests)
        if (r.first_token_ms >= 0) s.points.push_back({r.submit_ms / 1e3, r.first_token_ms - r.submit_ms});
    std::sort(s.points.begin(), s.points.end());
    c.series.push_back(s);
  }
  return c;
}

std::vector<Chart> step_trace(const Artifact& a, const std::string& label) {
  const RunRecord& run = a.runs[0];
  Chart rows{"Engine steps: rows per forward pass (" + label + ", run 0)", "time (s)", "rows", {}};
  Chart times{"Engine steps: time per step", "time (s)", "step time (ms)", {}};
  // Thousands of steps: a line for the step time (a marker each would make the SVG megabytes).
  Series prefill{"prefill rows", {}, SeriesStyle::Step}, decode{"decode rows", {}, SeriesStyle::Step},
      dur{"step time", {}, run.steps.size() > 2000 ? SeriesStyle::Line : SeriesStyle::Markers};
  for (const StepSample& s : run.steps) {
    prefill.points.push_back({s.start_ms / 1e3, static_cast<double>(s.prefill_rows)});
    decode.points.push_back({s.start_ms / 1e3, static_cast<double>(s.decode_rows)});
    dur.points.push_back({s.start_ms / 1e3, s.dur_ms});
  }
  rows.series = {prefill, decode};
  times.series = {dur};
  return {rows, times};
}

}  // namespace

std::vector<PlotFile> make_plots(const std::vector<Artifact>& arts) {
  std::vector<PlotFile> out;
  const std::vector<std::string> labels = labels_of(arts);
  out.push_back({"ttft_cdf.svg", render_svg({latency_cdf(arts, labels, "TTFT", "Time to first token", &LatencySamples::ttft)})});
  out.push_back({"itl_cdf.svg", render_svg({latency_cdf(arts, labels, "ITL", "Inter-token latency", &LatencySamples::itl)})});
  out.push_back({"e2e_cdf.svg",
                 render_svg({latency_cdf(arts, labels, "end-to-end latency", "End-to-end latency", &LatencySamples::e2e)})});
  out.push_back({"throughput_vs_concurrency.svg", render_svg({throughput_vs_concurrency(arts)})});
  out.push_back({"ttft_over_time.svg", render_svg({ttft_over_time(arts, labels)})});
  for (size_t i = 0; i < arts.size(); ++i)
    if (!arts[i].runs.empty() && !arts[i].runs[0].steps.empty())
      out.push_back({fmt::format("step_trace_{}.svg", i), render_svg(step_trace(arts[i], labels[i]), 760, 320)});
  return out;
}

std::vector<std::string> write_plots(const std::string& dir, const std::vector<Artifact>& arts) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  std::vector<std::string> names;
  std::string html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ax-engine bench plots</title></head>\n<body>\n<h1>ax-engine bench plots</h1>\n<ul>\n";
  for (size_t i = 0; i < arts.size(); ++i)
    html += fmt::format("<li>{}: {}</li>\n", i, xml_escape(arts[i].label() + " - " + arts[i].dir));
  html += "</ul>\n";
  for (const PlotFile& p : make_plots(arts)) {
    std::ofstream f(fs::path(dir) / p.name);
    if (!(f << p.svg)) fail("cannot write {}", (fs::path(dir) / p.name).string());
    names.push_back(p.name);
    html += fmt::format("<p><img src=\"{}\" alt=\"{}\"></p>\n", p.name, p.name);
  }
  html += "</body></html>\n";
  std::ofstream f(fs::path(dir) / "index.html");
  if (!(f << html)) fail("cannot write {}", (fs::path(dir) / "index.html").string());
  names.push_back("index.html");
  return names;
}

}  // namespace ax::bench
