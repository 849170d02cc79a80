// SVG charts (bench/svg_chart.h, bench/plots.h): tick steps of 1, 2 or 5 x 10^k that cover the
// data, escaped labels, points inside the drawing, and the set of plots made from artifacts.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>

#include "bench/plots.h"
#include "bench/svg_chart.h"

namespace ax::bench {
namespace {

using nlohmann::json;

TEST(SvgChart, NiceTicksCoverTheRangeInRoundSteps) {
  EXPECT_EQ(nice_ticks(0, 10), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  const std::vector<double> fifths = nice_ticks(0, 1, 5);
  ASSERT_EQ(fifths.size(), 6u);
  for (size_t i = 0; i < fifths.size(); ++i) EXPECT_NEAR(fifths[i], 0.2 * i, 1e-12);
  const std::vector<double> t = nice_ticks(13, 987);
  EXPECT_LE(t.front(), 13);
  EXPECT_GE(t.back(), 987);
  EXPECT_DOUBLE_EQ(t[1] - t[0], 200);
  EXPECT_EQ(nice_ticks(5, 5), (std::vector<double>{5}));
}

TEST(SvgChart, LabelsAreEscapedAndPointsStayInside) {
  Chart c{"a <b> & \"c\"", "x", "y", {{"s<1>", {{0, 0}, {5, 10}, {10, 3}}, SeriesStyle::LineMarkers}}};
  const std::string svg = render_svg({c}, 600, 300);
  EXPECT_EQ(svg.find("<b>"), std::string::npos);
  EXPECT_NE(svg.find("a &lt;b&gt; &amp; &quot;c&quot;"), std::string::npos);
  EXPECT_NE(svg.find("s&lt;1&gt;"), std::string::npos);
  EXPECT_EQ(svg.rfind("</svg>\n"), svg.size() - 7);
  const std::regex circle(R"re(<circle cx="([0-9.]+)" cy="([0-9.]+)")re");
  int points = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), circle); it != std::sregex_iterator(); ++it, ++points) {
    const double x = std::stod((*it)[1]), y = std::stod((*it)[2]);
    EXPECT_GE(x, 0);
    EXPECT_LE(x, 600);
    EXPECT_GE(y, 0);
    EXPECT_LE(y, 300);
  }
  EXPECT_EQ(points, 3);
  EXPECT_NE(render_svg({Chart{"empty", "x", "y", {}}}).find("no data"), std::string::npos);
}

Artifact artifact(const std::string& id, int concurrency, double throughput, bool steps) {
  Artifact a;
  a.dir = "/tmp/" + id;
  a.manifest = {{"id", id}, {"shape", {{"concurrency", concurrency}}}};
  a.environment = {{"target", {{"name", "ax-engine in-process"}}}};
  a.metrics = {{"summary", {{"throughput_tok_s", throughput}}}};
  RunRecord run;
  for (int i = 0; i < 4; ++i) {
    RequestRecord r;
    r.submit_ms = i * 10;
    r.arrivals = {{i * 10 + 5.0, 1}, {i * 10 + 7.0, 1}};
    r.first_token_ms = i * 10 + 5;
    r.finish_ms = i * 10 + 7;
    r.finish_reason = "length";
    run.requests.push_back(r);
  }
  if (steps) run.steps = {{0, 1, 40, 0, 2, 2, 0, 5}, {1, 0.5, 0, 2, 2, 2, 0, 5}};
  a.runs = {run};
  return a;
}

TEST(Plots, OneSeriesPerArtifactAndAStepTraceWhereThereAreSteps) {
  const std::vector<Artifact> arts = {artifact("short-concurrency1", 1, 50, true), artifact("short-concurrency8", 8, 200, false),
                                      artifact("short-concurrency4", 4, 150, false)};
  const std::vector<PlotFile> plots = make_plots(arts);
  std::vector<std::string> names;
  for (const PlotFile& p : plots) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"ttft_cdf.svg", "itl_cdf.svg", "e2e_cdf.svg", "throughput_vs_concurrency.svg",
                                             "ttft_over_time.svg", "step_trace_0.svg"}));
  for (const PlotFile& p : plots) EXPECT_EQ(p.svg.rfind("<svg", 0), 0u) << p.name;
  // The three runs of one family make one throughput line through x = 1, 4, 8.
  const std::string& tvc = plots[3].svg;
  EXPECT_NE(tvc.find("short (ax-engine in-process)"), std::string::npos);
  size_t circles = 0;
  for (size_t at = tvc.find("<circle"); at != std::string::npos; at = tvc.find("<circle", at + 1)) ++circles;
  EXPECT_EQ(circles, 3u);
  EXPECT_NE(plots[0].svg.find("short-concurrency8 (ax-engine in-process)"), std::string::npos);
  EXPECT_NE(plots[5].svg.find("prefill rows"), std::string::npos);
  // Two artifacts with one label are told apart by their index.
  const std::vector<PlotFile> twins = make_plots({arts[0], arts[0]});
  EXPECT_NE(twins[0].svg.find("short-concurrency1 (ax-engine in-process) [1]"), std::string::npos);
}

TEST(Plots, LargeSampleSetsAreThinnedToBoundedCdfs) {
  Artifact a = artifact("big", 1, 1, false);
  RequestRecord r;
  r.submit_ms = 0;
  r.finish_reason = "length";
  for (int i = 0; i < 50000; ++i) r.arrivals.push_back({1.0 + i, 1});  // 49,999 ITL samples of 1 ms
  r.first_token_ms = 1;
  r.finish_ms = 50000;
  a.runs[0].requests = {r};
  const std::string svg = make_plots({a})[1].svg;  // itl_cdf.svg
  EXPECT_LT(svg.size(), 60000u);
  EXPECT_NE(svg.find("big (ax-engine in-process)"), std::string::npos);
}

}  // namespace
}  // namespace ax::bench
