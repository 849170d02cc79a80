// ax-engine bench compare BASE_DIR CAND_DIR [--max-regression 5%] [--metrics a,b] [--out DIR]
// Prints comparison.md and writes it into --out (default: the candidate's folder).
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "bench/compare.h"
#include "cli/bench_subcommands.h"
#include "util/error.h"

namespace ax::cli {
namespace {

struct CompareCliOptions {
  std::string base, cand, out, limit = "5%";
  std::vector<std::string> metrics;
  bool allow_manifest_diff = false;
  bool require_same_outputs = false;
};

int run_compare(const CompareCliOptions& o) {
  bench::CompareOptions co;
  co.max_regression = bench::parse_regression_limit(o.limit);
  co.metrics = o.metrics;
  co.allow_manifest_diff = o.allow_manifest_diff;
  co.require_same_outputs = o.require_same_outputs;
  const bench::Comparison c = bench::compare_artifacts(bench::load_artifact(o.base), bench::load_artifact(o.cand), co);
  const std::string md = bench::comparison_markdown(c);
  std::fputs(md.c_str(), stdout);
  const std::filesystem::path out = std::filesystem::path(o.out.empty() ? o.cand : o.out) / "comparison.md";
  std::filesystem::create_directories(out.parent_path());
  std::ofstream f(out);
  if (!(f << md)) fail("cannot write {}", out.string());
  if (c.exit_code == bench::kExitManifest)
    std::fprintf(stderr, "error: the two runs are of different manifests (--allow-manifest-diff compares them anyway)\n");
  return c.exit_code;
}

}  // namespace

BenchSubcommand add_bench_compare(CLI::App& bench) {
  auto o = std::make_shared<CompareCliOptions>();
  CLI::App* cmp = bench.add_subcommand("compare", "Compare two artifact folders of bench run: deltas, spread, verdicts");
  cmp->add_option("base", o->base, "the baseline artifact folder")->required()->check(CLI::ExistingDirectory);
  cmp->add_option("candidate", o->cand, "the candidate artifact folder")->required()->check(CLI::ExistingDirectory);
  cmp->add_option("--max-regression", o->limit, "how much worse a metric may get (5% or 0.05)")->capture_default_str();
  cmp->add_option("--metrics", o->metrics, "metrics to judge (default: throughput, speeds, latencies, RSS)")->delimiter(',');
  cmp->add_flag("--allow-manifest-diff", o->allow_manifest_diff, "compare runs of different manifests (differences listed)");
  cmp->add_flag("--require-same-outputs", o->require_same_outputs,
                "fail (exit 3) when a request's output differs between the two (run 0 of each)");
  cmp->add_option("--out", o->out, "folder for comparison.md (default: the candidate's)");
  return {cmp, [o] { return run_compare(*o); }};
}

}  // namespace ax::cli
