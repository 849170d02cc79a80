// ax-engine bench run MANIFEST... [--out DIR] [--url URL] [--repeat N] [--variant NAME]
// Runs each manifest (or every manifest of a matrix file) and writes one artifact folder per
// manifest. Exit code: 0 ok, 1 usage or runtime error, 2 a manifest that cannot run, 3 a
// correctness or determinism check failed, 4 a threshold was missed (the first that applies, in
// that order, over all manifests).
#include <cstdio>

#include "bench/bench_run.h"
#include "bench/checks.h"
#include "cli/bench_subcommands.h"
#include "cli/model_arg.h"

namespace ax::cli {
namespace {

struct RunCliOptions {
  std::vector<std::string> manifests;
  std::string variant;
  std::string model;
  std::string perturb;
  bool no_progress = false;
  bench::RunOptions run;
};

// Worse outcomes first: an error, a manifest that cannot run, a failed check, a missed threshold.
int rank(int code) {
  switch (code) {
    case bench::kExitError: return 4;
    case bench::kExitManifest: return 3;
    case bench::kExitCheckFailed: return 2;
    case bench::kExitThresholdMissed: return 1;
    default: return 0;
  }
}

int run_manifests(RunCliOptions& o) {
  std::vector<bench::Manifest> all;
  try {
    for (const auto& path : o.manifests)
      for (auto& m : bench::load_manifests(path, o.variant)) all.push_back(std::move(m));
  } catch (const bench::ManifestError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return bench::kExitManifest;
  }
  if (!o.model.empty())
    for (auto& m : all) m.model.path = o.model;
  if (!o.perturb.empty()) o.run.perturb = bench::parse_perturbation(o.perturb);
  o.run.progress = !o.no_progress;
  bench::BenchRunner runner(o.run);
  int worst = 0;
  for (const auto& m : all) {
    int code;
    try {
      const bench::ManifestResult r = runner.run(m);
      std::printf("%s\n", r.summary_line.c_str());
      std::fflush(stdout);
      code = r.exit_code;
      if (code != 0) std::fprintf(stderr, "%s: checks failed (exit %d), see %s/summary.md\n", m.id.c_str(), code, r.dir.c_str());
    } catch (const bench::ManifestError& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      code = bench::kExitManifest;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s: %s\n", m.id.c_str(), e.what());
      code = bench::kExitError;
    }
    if (rank(code) > rank(worst)) worst = code;
  }
  return worst;
}

}  // namespace

BenchSubcommand add_bench_run(CLI::App& bench) {
  auto o = std::make_shared<RunCliOptions>();
  CLI::App* run = bench.add_subcommand("run", "Run benchmark manifests (scenarios or replays) with checks; write artifacts");
  run->add_option("manifests", o->manifests, "manifest or matrix files (JSON, docs/BENCH.md)")->required();
  run->add_option("--out", o->run.out_dir, "folder for the artifact folders")->capture_default_str();
  run->add_option("--url", o->run.url, "run against a server at this URL (ours or any OpenAI-compatible one)");
  run->add_option("--api", o->run.api, "with --url: ax (token routes), openai (/v1/completions) or auto")
      ->check(CLI::IsMember({"auto", "ax", "openai"}))
      ->capture_default_str();
  run->add_option("--api-key", o->run.api_key, "with --url: sent as a Bearer token");
  run->add_option("--served-model", o->run.model_name, "with --api openai: the request's model field (default: the server's)");
  run->add_option("--repeat", o->run.repeat, "runs of each workload (default 2 when the manifest expects determinism, else 1)")
      ->check(CLI::PositiveNumber);
  run->add_option("--variant", o->variant, "apply the manifests' variant of this name (e.g. small)");
  run->add_option("--model", o->model, "run this model instead of the manifests' model.path")
      ->transform(pulled_model_names());
  run->add_flag("--no-progress", o->no_progress, "no progress bar on stderr");
  // A test hook: ban the greedy token at REPEAT:REQUEST:POSITION, so --repeat must catch it.
  run->add_option("--perturb", o->perturb)->group("");
  return {run, [o] { return run_manifests(*o); }};
}

}  // namespace ax::cli
