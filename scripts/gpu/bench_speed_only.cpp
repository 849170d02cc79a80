// `ax-engine bench speed` alone, for the static ax-bench of the GPU hosts
// (scripts/build-gpu-bins.sh): the other bench subcommands need the HTTP libraries, which those
// hosts do not have. Linked with src/cli/main.cpp in place of src/cli/cmd_bench.cpp.
#include "cli/bench_subcommands.h"

namespace ax::cli {
namespace {

RegisterCommand reg_bench("bench", "Benchmarks: speed (docs/BENCH.md)", [](CLI::App& app) -> CommandRun {
  app.require_subcommand(1);
  const BenchSubcommand speed = add_bench_speed(app);
  return [speed] { return speed.run(); };
});

}  // namespace
}  // namespace ax::cli
