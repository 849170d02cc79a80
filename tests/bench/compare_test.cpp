// bench compare's logic (bench/compare.h): the regression limit's syntax, manifest differences,
// each metric's verdict in its own direction, the spread note, and the exit code.
#include <gtest/gtest.h>

#include "bench/checks.h"
#include "bench/compare.h"

namespace ax::bench {
namespace {

using nlohmann::json;

Artifact artifact(json summary, json spread = json::object(), json manifest = {{"id", "m"}, {"shape", {{"requests", 4}}}}) {
  Artifact a;
  a.dir = "dir";
  a.manifest = manifest;
  a.environment = {{"target", {{"name", "t"}}}};
  a.metrics = {{"summary", summary}, {"spread", spread}, {"checks", json::array()}};
  return a;
}

const MetricDelta& row(const Comparison& c, const std::string& name) {
  for (const auto& r : c.rows)
    if (r.name == name) return r;
  throw std::runtime_error("no row " + name);
}

TEST(Compare, RegressionLimitSyntax) {
  EXPECT_DOUBLE_EQ(parse_regression_limit("5%"), 0.05);
  EXPECT_DOUBLE_EQ(parse_regression_limit("2.5 %"), 0.025);
  EXPECT_DOUBLE_EQ(parse_regression_limit("0.1"), 0.1);
  EXPECT_THROW(parse_regression_limit("5"), Error);  // 5 what? a fraction must be below 1
  EXPECT_THROW(parse_regression_limit("-5%"), Error);
  EXPECT_THROW(parse_regression_limit("five"), Error);
}

TEST(Compare, EachMetricIsJudgedInItsOwnDirection) {
  const Artifact base = artifact({{"throughput_tok_s", 100.0}, {"ttft_p50_ms", 50.0}, {"decode_tok_s", 20.0},
                                  {"itl_p50_ms", 10.0}, {"peak_rss_mb", nullptr}});
  const Artifact cand = artifact({{"throughput_tok_s", 90.0}, {"ttft_p50_ms", 40.0}, {"decode_tok_s", 20.5},
                                  {"itl_p50_ms", 10.6}, {"peak_rss_mb", 30.0}});
  CompareOptions o;
  o.max_regression = 0.05;
  o.metrics = {"throughput_tok_s", "ttft_p50_ms", "decode_tok_s", "itl_p50_ms", "peak_rss_mb", "requests"};
  const Comparison c = compare_artifacts(base, cand, o);
  EXPECT_EQ(row(c, "throughput_tok_s").verdict, DeltaVerdict::Regression);  // 10 % fewer tokens/s
  EXPECT_NEAR(*row(c, "throughput_tok_s").change, -0.10, 1e-12);
  EXPECT_EQ(row(c, "ttft_p50_ms").verdict, DeltaVerdict::Improved);         // 20 % less latency
  EXPECT_EQ(row(c, "decode_tok_s").verdict, DeltaVerdict::Ok);              // +2.5 %
  EXPECT_EQ(row(c, "itl_p50_ms").verdict, DeltaVerdict::Regression);        // +6 % latency
  EXPECT_EQ(row(c, "peak_rss_mb").verdict, DeltaVerdict::NotComparable);    // the base did not report it
  EXPECT_EQ(row(c, "requests").verdict, DeltaVerdict::NotComparable);       // neither direction is better
  EXPECT_EQ(c.exit_code, kExitThresholdMissed);
  o.max_regression = 0.2;
  EXPECT_EQ(compare_artifacts(base, cand, o).exit_code, kExitOk);
  o.metrics = {"speed"};
  EXPECT_THROW(compare_artifacts(base, cand, o), Error);
}

TEST(Compare, SpreadOfRepeatsIsReportedBesideTheVerdict) {
  const Artifact base = artifact({{"throughput_tok_s", 100.0}}, {{"throughput_tok_s", {{"min", 80.0}, {"max", 120.0}}}});
  const Artifact cand = artifact({{"throughput_tok_s", 101.0}}, {{"throughput_tok_s", {{"min", 99.0}, {"max", 103.0}}}});
  CompareOptions o;
  o.metrics = {"throughput_tok_s"};
  const Comparison c = compare_artifacts(base, cand, o);
  EXPECT_NEAR(row(c, "throughput_tok_s").spread, 0.4, 1e-12);
  const std::string md = comparison_markdown(c);
  EXPECT_NE(md.find("| throughput_tok_s | 100 | 101 | +1.0% | 80-120 | 99-103 | ok (runs spread 40%, more than the limit) |"),
            std::string::npos) << md;
  EXPECT_NE(md.find("Verdict: no regression (exit 0)."), std::string::npos) << md;
}

TEST(Compare, DifferentManifestsAreNotComparableUnlessAllowed) {
  const Artifact base = artifact({{"throughput_tok_s", 100.0}});
  const Artifact cand = artifact({{"throughput_tok_s", 100.0}}, json::object(), {{"id", "m"}, {"shape", {{"requests", 8}}}});
  CompareOptions o;
  Comparison c = compare_artifacts(base, cand, o);
  EXPECT_EQ(c.manifest_differences, (std::vector<std::string>{"/shape/requests"}));
  EXPECT_EQ(c.exit_code, kExitManifest);
  EXPECT_NE(comparison_markdown(c).find("manifests DIFFER at: `/shape/requests`"), std::string::npos);
  o.allow_manifest_diff = true;
  EXPECT_EQ(compare_artifacts(base, cand, o).exit_code, kExitOk);
}

RunRecord outputs(std::vector<std::vector<int32_t>> per_request) {
  RunRecord run;
  for (auto& ids : per_request) {
    RequestRecord r;
    r.output = ids;
    r.has_token_ids = true;
    r.finish_reason = "length";
    run.requests.push_back(r);
  }
  return run;
}

TEST(Compare, OutputsAreComparedRequestByRequest) {
  Artifact base = artifact({{"throughput_tok_s", 100.0}}), cand = base;
  base.runs = {outputs({{1, 2}, {3, 4}, {5, 6}})};
  cand.runs = {outputs({{1, 2}, {3, 9}, {5, 6}})};
  cand.request_ids = {"r0", "r1", "r2"};
  CompareOptions o;
  o.metrics = {"throughput_tok_s"};
  Comparison c = compare_artifacts(base, cand, o);
  EXPECT_EQ(c.outputs.compared, 3u);
  EXPECT_EQ(c.outputs.identical, 2u);
  EXPECT_EQ(c.first_difference, "request r1 differs at output position 1: 9 in the candidate, 4 in the base");
  EXPECT_EQ(c.exit_code, kExitOk) << "informational unless required";
  EXPECT_NE(comparison_markdown(c).find("- outputs (run 0 of each): 2 of 3 requests identical; first difference: request r1"),
            std::string::npos);
  o.require_same_outputs = true;
  EXPECT_EQ(compare_artifacts(base, cand, o).exit_code, kExitCheckFailed);
  cand.runs = base.runs;
  EXPECT_EQ(compare_artifacts(base, cand, o).exit_code, kExitOk);
  // Text is compared where one side has no token ids (an OpenAI-compatible peer).
  base.runs[0].requests[0].text = "hello";
  cand.runs[0].requests[0].text = "help!";
  cand.runs[0].requests[0].has_token_ids = false;
  c = compare_artifacts(base, cand, o);
  EXPECT_EQ(c.outputs.identical, 2u);
  EXPECT_EQ(c.first_difference, "request r0 differs at output position 3: \"p!\" in the candidate, \"lo\" in the base");
}

}  // namespace
}  // namespace ax::bench
