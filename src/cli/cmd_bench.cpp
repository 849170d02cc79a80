// ax-engine bench: the benchmark toolkit (docs/BENCH.md).
//   bench speed    prefill/decode tokens/s of a model file, optionally beside llama.cpp
//   bench run      runs manifests (scenarios, replays) with checks and writes artifact folders
//   bench compare  two artifact folders: deltas, spread, pass/fail per metric
//   bench plot     SVG charts of artifact folders
#include "cli/bench_subcommands.h"

namespace ax::cli {
namespace {

RegisterCommand reg_bench("bench", "Benchmarks: speed, run (manifests), compare, plot (docs/BENCH.md)",
                          [](CLI::App& app) -> CommandRun {
  app.require_subcommand(1);
  std::vector<BenchSubcommand> subs = {add_bench_speed(app), add_bench_run(app), add_bench_compare(app),
                                       add_bench_plot(app)};
  return [subs] {
    for (const auto& s : subs)
      if (s.app->parsed()) return s.run();
    return 1;
  };
});

}  // namespace
}  // namespace ax::cli
