#pragma once
// The verdict of a run: correctness checks (no failed requests, determinism across repeats,
// prefix reuse, every KV block released at the end) and the manifest's thresholds on the summary
// metrics. bench run's exit code follows: 3 when a correctness check failed, else 4 when a
// threshold was missed, else 0.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/manifest.h"
#include "bench/run_record.h"
#include "bench/workload.h"

namespace ax::bench {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitManifest = 2;
inline constexpr int kExitCheckFailed = 3;
inline constexpr int kExitThresholdMissed = 4;

enum class CheckStatus { Passed, Failed, Skipped };

struct CheckResult {
  std::string name;  // "expect_deterministic", "thresholds[0]", ...
  CheckStatus status = CheckStatus::Passed;
  std::string detail;  // one sentence: what was seen
  bool is_threshold = false;
};

// The digest of a request's output: xxh64 of its token ids (little-endian int32) when the target
// reports ids, else of its text; 16 hex digits.
std::string output_digest(const RequestRecord& r);

// The first difference between two runs' outputs of the same workload, among requests that
// finished normally in both (cancelled and failed requests depend on timing).
struct Mismatch {
  size_t request = 0;
  int repeat = 0;         // the run that differs from run 0
  int64_t position = 0;   // first differing output token (or byte, for text digests)
  std::string expected, got;  // the token ids (or text snippets) at that position
};
std::optional<Mismatch> first_mismatch(const std::vector<RunRecord>& runs);

// How many requests finished normally in both runs and how many of those have identical outputs
// (e.g. one manifest on two engines, or at two concurrencies); the first difference.
struct OutputAgreement {
  size_t compared = 0, identical = 0;
  std::optional<Mismatch> first;  // repeat unset
};
OutputAgreement compare_outputs(const RunRecord& a, const RunRecord& b);

// Evaluates the manifest's checks; summary: metrics.json's "summary".
std::vector<CheckResult> evaluate_checks(const Manifest& m, const Workload& w, const std::vector<RunRecord>& runs,
                                         const nlohmann::json& summary);
int exit_code(const std::vector<CheckResult>& checks);
const char* to_string(CheckStatus s);

}  // namespace ax::bench
