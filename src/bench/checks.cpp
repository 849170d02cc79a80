#include "bench/checks.h"

#include <fmt/core.h>
#include <xxhash.h>

#include <algorithm>

namespace ax::bench {

using nlohmann::json;

const char* to_string(CheckStatus s) {
  switch (s) {
    case CheckStatus::Passed: return "pass";
    case CheckStatus::Failed: return "FAIL";
    case CheckStatus::Skipped: return "skipped";
  }
  return "?";
}

std::string output_digest(const RequestRecord& r) {
  uint64_t h;
  if (r.has_token_ids) {
    std::vector<uint8_t> bytes;
    bytes.reserve(r.output.size() * 4);
    for (int32_t t : r.output)
      for (int b = 0; b < 4; ++b) bytes.push_back(static_cast<uint8_t>(static_cast<uint32_t>(t) >> (8 * b)));
    h = XXH64(bytes.data(), bytes.size(), 0);
  } else {
    h = XXH64(r.text.data(), r.text.size(), 0);
  }
  return fmt::format("{:016x}", h);
}

namespace {

// Where two finished requests' outputs first differ (token ids when both have them, else text).
std::optional<Mismatch> differ(const RequestRecord& a, const RequestRecord& b) {
  Mismatch m;
  if (a.has_token_ids && b.has_token_ids) {
    if (a.output == b.output) return std::nullopt;
    const size_t n = std::min(a.output.size(), b.output.size());
    size_t p = 0;
    while (p < n && a.output[p] == b.output[p]) ++p;
    m.position = static_cast<int64_t>(p);
    m.expected = p < a.output.size() ? std::to_string(a.output[p]) : "(end)";
    m.got = p < b.output.size() ? std::to_string(b.output[p]) : "(end)";
    return m;
  }
  if (a.text == b.text) return std::nullopt;
  const size_t n = std::min(a.text.size(), b.text.size());
  size_t p = 0;
  while (p < n && a.text[p] == b.text[p]) ++p;
  m.position = static_cast<int64_t>(p);
  m.expected = json(a.text.substr(p, 16)).dump(-1, ' ', false, json::error_handler_t::replace);
  m.got = json(b.text.substr(p, 16)).dump(-1, ' ', false, json::error_handler_t::replace);
  return m;
}

}  // namespace

OutputAgreement compare_outputs(const RunRecord& a, const RunRecord& b) {
  OutputAgreement r;
  for (size_t i = 0; i < std::min(a.requests.size(), b.requests.size()); ++i) {
    if (!a.requests[i].ok() || !b.requests[i].ok()) continue;
    ++r.compared;
    std::optional<Mismatch> m = differ(a.requests[i], b.requests[i]);
    if (!m) {
      ++r.identical;
    } else if (!r.first) {
      m->request = i;
      r.first = m;
    }
  }
  return r;
}

std::optional<Mismatch> first_mismatch(const std::vector<RunRecord>& runs) {
  std::optional<Mismatch> first;
  for (size_t k = 1; k < runs.size(); ++k) {
    std::optional<Mismatch> m = compare_outputs(runs[0], runs[k]).first;
    if (m && (!first || m->request < first->request)) {
      m->repeat = static_cast<int>(k);
      first = m;
    }
  }
  return first;
}

std::vector<CheckResult> evaluate_checks(const Manifest& m, const Workload& w, const std::vector<RunRecord>& runs,
                                         const json& summary) {
  std::vector<CheckResult> out;
  const ChecksSpec& c = m.checks;
  if (c.no_failed_requests) {
    CheckResult r;
    r.name = "no_failed_requests";
    int64_t failed = 0;
    std::string first;
    for (const RunRecord& run : runs)
      for (size_t i = 0; i < run.requests.size(); ++i)
        if (run.requests[i].finish_reason == "error" && failed++ == 0)
          first = fmt::format("request {} (run {}): {}", w.requests[i].id, run.repeat, run.requests[i].error);
    r.status = failed ? CheckStatus::Failed : CheckStatus::Passed;
    r.detail = failed ? fmt::format("{} requests failed; first: {}", failed, first) : "every request finished";
    out.push_back(r);
  }
  if (c.expect_deterministic) {
    CheckResult r;
    r.name = "expect_deterministic";
    if (runs.size() < 2) {
      r.status = CheckStatus::Skipped;
      r.detail = "one run only: use --repeat 2 or more";
    } else if (auto mm = first_mismatch(runs)) {
      r.status = CheckStatus::Failed;
      r.detail = fmt::format("request {} differs in run {} from run 0 at output position {}: {} instead of {}",
                             w.requests[mm->request].id, mm->repeat, mm->position, mm->got, mm->expected);
    } else {
      int64_t compared = 0;
      for (size_t i = 0; i < runs[0].requests.size(); ++i) {
        bool all_ok = true;
        for (const RunRecord& run : runs) all_ok = all_ok && run.requests[i].ok();
        compared += all_ok;
      }
      r.detail = fmt::format("{} requests identical over {} runs", compared, runs.size());
    }
    out.push_back(r);
  }
  if (c.require_prefix_reuse) {
    CheckResult r;
    r.name = "require_prefix_reuse";
    double worst = 1;
    for (const RunRecord& run : runs) {
      int64_t prompt = 0, cached = 0;
      for (const RequestRecord& q : run.requests) prompt += q.prompt_tokens, cached += q.cached_tokens;
      worst = std::min(worst, prompt ? static_cast<double>(cached) / prompt : 0.0);
    }
    const bool ok = worst > 0 && worst >= c.min_prefix_hit_rate;
    r.status = ok ? CheckStatus::Passed : CheckStatus::Failed;
    r.detail = fmt::format("prefix hit rate {:.3f} in the worst run (required > 0{})", worst,
                           c.min_prefix_hit_rate > 0 ? fmt::format(" and >= {}", c.min_prefix_hit_rate) : "");
    out.push_back(r);
  }
  // An engine invariant, checked wherever the target reports it: no request holds KV blocks once
  // all have finished (cancelled ones included).
  bool reported = false;
  int64_t leaked = 0;
  for (const RunRecord& run : runs)
    if (run.totals.kv_blocks_used_at_end) reported = true, leaked = std::max(leaked, *run.totals.kv_blocks_used_at_end);
  if (reported) {
    CheckResult r;
    r.name = "kv_blocks_released";
    r.status = leaked ? CheckStatus::Failed : CheckStatus::Passed;
    r.detail = leaked ? fmt::format("{} KV blocks still in use after every request finished", leaked)
                      : "every KV block was free at the end";
    out.push_back(r);
  }
  for (size_t i = 0; i < c.thresholds.size(); ++i) {
    const Threshold& t = c.thresholds[i];
    CheckResult r;
    r.name = fmt::format("thresholds[{}]", i);
    r.is_threshold = true;
    const json v = summary.value(t.metric, json());
    if (!v.is_number()) {
      r.status = CheckStatus::Failed;
      r.detail = fmt::format("{}: {} is not reported by this target", t.text, t.metric);
    } else {
      r.status = threshold_holds(t, v.get<double>()) ? CheckStatus::Passed : CheckStatus::Failed;
      r.detail = fmt::format("{}: measured {:.4g}", t.text, v.get<double>());
    }
    out.push_back(r);
  }
  return out;
}

int exit_code(const std::vector<CheckResult>& checks) {
  bool check_failed = false, threshold_missed = false;
  for (const CheckResult& c : checks) {
    if (c.status != CheckStatus::Failed) continue;
    (c.is_threshold ? threshold_missed : check_failed) = true;
  }
  return check_failed ? kExitCheckFailed : threshold_missed ? kExitThresholdMissed : kExitOk;
}

}  // namespace ax::bench
