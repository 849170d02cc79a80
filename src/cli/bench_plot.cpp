// ax-engine bench plot ARTIFACT... [--out DIR]: SVG charts (and an index.html) of artifact folders.
#include <cstdio>

#include "bench/plots.h"
#include "cli/bench_subcommands.h"

namespace ax::cli {
namespace {

struct PlotCliOptions {
  std::vector<std::string> artifacts;
  std::string out = "bench-plots";
};

int run_plot(const PlotCliOptions& o) {
  std::vector<bench::Artifact> arts;
  for (const auto& dir : o.artifacts) arts.push_back(bench::load_artifact(dir));
  for (const auto& name : bench::write_plots(o.out, arts)) std::printf("%s/%s\n", o.out.c_str(), name.c_str());
  return 0;
}

}  // namespace

BenchSubcommand add_bench_plot(CLI::App& bench) {
  auto o = std::make_shared<PlotCliOptions>();
  CLI::App* plot = bench.add_subcommand("plot", "SVG charts of artifact folders (latency CDFs, throughput, TTFT, steps)");
  plot->add_option("artifacts", o->artifacts, "artifact folders written by bench run")->required()->check(CLI::ExistingDirectory);
  plot->add_option("--out", o->out, "folder for the SVG files and index.html")->capture_default_str();
  return {plot, [o] { return run_plot(*o); }};
}

}  // namespace ax::cli
