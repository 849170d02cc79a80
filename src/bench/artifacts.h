#pragma once
// The artifact directory of one manifest's run, `<out>/<UTC time>-<manifest hash>-<id>/`:
//   manifest.json     the manifest as run (Manifest::resolved)
//   environment.json  machine, build, target (in-process engine or the server behind --url)
//   metrics.json      run_metrics.h's document
//   requests.jsonl    one line per request and repeat: token accounting, times, output token ids
//                     (or text) and their digest
//   trace.json        Chrome trace events (Perfetto, chrome://tracing): engine steps with their
//                     prefill/decode rows, queue and KV gauges, each request's waiting and
//                     decoding spans
//   summary.md        what ran, the key numbers and every check's verdict
// load_artifact() reads one back for `bench compare` and `bench plot`.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/checks.h"
#include "bench/manifest.h"
#include "bench/run_record.h"
#include "bench/workload.h"

namespace ax::bench {

// 8 hex digits of the resolved manifest's xxh64.
std::string manifest_hash(const nlohmann::json& resolved);
// "<YYYYMMDDTHHMMSSZ>-<hash>-<id>" for the current time.
std::string artifact_dir_name(const Manifest& m);

struct RunOutput {
  const Manifest* manifest = nullptr;
  const Workload* workload = nullptr;
  nlohmann::json environment;
  std::vector<RunRecord> runs;
  nlohmann::json metrics;
  std::vector<CheckResult> checks;
  int exit_code = 0;
};

// Writes every file into dir (created).
void write_artifacts(const std::string& dir, const RunOutput& out);
std::string summary_markdown(const RunOutput& out);
nlohmann::json trace_json(const RunOutput& out);

struct Artifact {
  std::string dir;
  nlohmann::json manifest, environment, metrics;
  std::vector<RunRecord> runs;  // requests (times, token counts, outputs) and steps, per repeat
  std::vector<std::string> request_ids;  // in workload order
  std::string label() const;    // "<id> (<target>)" for legends and tables
};
// Throws ax::Error naming the file when dir is not a complete artifact directory.
Artifact load_artifact(const std::string& dir);

}  // namespace ax::bench
