// The run's verdict (bench/checks.h): output digests, the first difference between repeated runs,
// each check's pass/fail/skip and the exit code they add up to.
#include <gtest/gtest.h>

#include "bench/checks.h"

namespace ax::bench {
namespace {

using nlohmann::json;

RequestRecord done(std::vector<int32_t> out, std::string reason = "length") {
  RequestRecord r;
  r.submit_ms = 0;
  r.first_token_ms = 1;
  r.finish_ms = 2;
  r.output = std::move(out);
  r.has_token_ids = true;
  r.finish_reason = std::move(reason);
  r.prompt_tokens = 10;
  return r;
}

RunRecord run_of(int repeat, std::vector<RequestRecord> requests) {
  RunRecord r;
  r.repeat = repeat;
  r.requests = std::move(requests);
  return r;
}

Workload workload(size_t n) {
  Workload w;
  for (size_t i = 0; i < n; ++i) w.requests.push_back({"r" + std::to_string(i), {1}, 4, 0, "", -1, 0});
  return w;
}

Manifest manifest(json checks) {
  return parse_manifest({{"schema", kManifestSchema}, {"id", "c"}, {"model", {{"path", "m"}}},
                         {"shape", {{"requests", 1}}}, {"checks", checks}},
                        "c.json", "");
}

const CheckResult& find(const std::vector<CheckResult>& all, const std::string& name) {
  for (const auto& c : all)
    if (c.name == name) return c;
  throw std::runtime_error("no check " + name);
}

TEST(Checks, DigestsCoverTokenIdsOrText) {
  RequestRecord a = done({1, 2, 3}), b = done({1, 2, 3}), c = done({1, 2, 4});
  EXPECT_EQ(output_digest(a), output_digest(b));
  EXPECT_NE(output_digest(a), output_digest(c));
  EXPECT_EQ(output_digest(a).size(), 16u);
  RequestRecord t1, t2;
  t1.text = "hello";
  t2.text = "hellp";
  EXPECT_NE(output_digest(t1), output_digest(t2));
}

TEST(Checks, FirstMismatchNamesRequestRunAndPosition) {
  std::vector<RunRecord> runs = {run_of(0, {done({5, 6, 7}), done({1, 2, 3, 4})}),
                                 run_of(1, {done({5, 6, 7}), done({1, 2, 3, 4})}),
                                 run_of(2, {done({5, 6, 7}), done({1, 2, 9, 4})})};
  auto m = first_mismatch(runs);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->request, 1u);
  EXPECT_EQ(m->repeat, 2);
  EXPECT_EQ(m->position, 2);
  EXPECT_EQ(m->expected, "3");
  EXPECT_EQ(m->got, "9");
  // A shorter output differs where it ends.
  runs[2].requests[1] = done({1, 2, 3});
  m = first_mismatch(runs);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->position, 3);
  EXPECT_EQ(m->got, "(end)");
  // Cancelled or failed requests depend on timing: not compared.
  runs[2].requests[1].finish_reason = "cancelled";
  EXPECT_FALSE(first_mismatch(runs));
}

TEST(Checks, DeterminismFailsWithTheFirstDifferenceAndSkipsOneRun) {
  const Manifest m = manifest({{"expect_deterministic", true}});
  const Workload w = workload(2);
  std::vector<RunRecord> runs = {run_of(0, {done({1}), done({2, 3})})};
  const auto one = evaluate_checks(m, w, runs, json::object());
  EXPECT_EQ(find(one, "expect_deterministic").status, CheckStatus::Skipped);
  EXPECT_EQ(exit_code(one), kExitOk);
  runs.push_back(run_of(1, {done({1}), done({2, 4})}));
  const auto two = evaluate_checks(m, w, runs, json::object());
  const CheckResult& d = find(two, "expect_deterministic");
  EXPECT_EQ(d.status, CheckStatus::Failed);
  EXPECT_EQ(d.detail, "request r1 differs in run 1 from run 0 at output position 1: 4 instead of 3");
  EXPECT_EQ(exit_code(two), kExitCheckFailed);
}

TEST(Checks, FailedRequestsPrefixReuseAndReleasedBlocks) {
  const Manifest m = manifest({{"require_prefix_reuse", {{"min_hit_rate", 0.25}}}});
  const Workload w = workload(2);
  RequestRecord bad = done({});
  bad.finish_reason = "error";
  bad.error = "request: too long";
  RunRecord run = run_of(0, {done({1}), bad});
  run.requests[0].cached_tokens = 4;  // 4 of 20 prompt tokens: 0.2
  run.totals.kv_blocks_used_at_end = 3;
  const auto checks = evaluate_checks(m, w, {run}, json::object());
  EXPECT_EQ(find(checks, "no_failed_requests").status, CheckStatus::Failed);
  EXPECT_EQ(find(checks, "no_failed_requests").detail, "1 requests failed; first: request r1 (run 0): request: too long");
  EXPECT_EQ(find(checks, "require_prefix_reuse").status, CheckStatus::Failed);
  EXPECT_EQ(find(checks, "kv_blocks_released").status, CheckStatus::Failed);
  run.requests[1] = done({2});
  run.requests[1].cached_tokens = 2;  // 6 of 20: 0.3
  run.totals.kv_blocks_used_at_end = 0;
  const auto fixed = evaluate_checks(m, w, {run}, json::object());
  for (const auto& c : fixed) EXPECT_EQ(c.status, CheckStatus::Passed) << c.name << ": " << c.detail;
}

TEST(Checks, ThresholdsMissedExitFourUnlessACheckFailed) {
  const Manifest m = manifest({{"thresholds", {"decode_tok_s >= 100", "ttft_p95_ms <= 50", "peak_rss_mb < 10"}}});
  const Workload w = workload(1);
  const std::vector<RunRecord> runs = {run_of(0, {done({1})})};
  const json summary = {{"decode_tok_s", 120.0}, {"ttft_p95_ms", 80.0}, {"peak_rss_mb", nullptr}};
  const auto checks = evaluate_checks(m, w, runs, summary);
  EXPECT_EQ(find(checks, "thresholds[0]").status, CheckStatus::Passed);
  EXPECT_EQ(find(checks, "thresholds[1]").status, CheckStatus::Failed);
  EXPECT_EQ(find(checks, "thresholds[1]").detail, "ttft_p95_ms <= 50: measured 80");
  EXPECT_EQ(find(checks, "thresholds[2]").detail, "peak_rss_mb < 10: peak_rss_mb is not reported by this target");
  EXPECT_EQ(exit_code(checks), kExitThresholdMissed);
  std::vector<CheckResult> with_failure = checks;
  with_failure.push_back({"no_failed_requests", CheckStatus::Failed, "x", false});
  EXPECT_EQ(exit_code(with_failure), kExitCheckFailed);
}

}  // namespace
}  // namespace ax::bench
