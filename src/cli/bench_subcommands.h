#pragma once
// The subcommands of `ax-engine bench`, one file each (bench_speed.cpp, bench_run.cpp,
// bench_compare.cpp, bench_plot.cpp); cmd_bench.cpp puts them under `bench`.
#include <CLI/CLI.hpp>

#include "cli/command.h"

namespace ax::cli {

struct BenchSubcommand {
  CLI::App* app = nullptr;
  CommandRun run;
};

BenchSubcommand add_bench_speed(CLI::App& bench);
BenchSubcommand add_bench_run(CLI::App& bench);
BenchSubcommand add_bench_compare(CLI::App& bench);
BenchSubcommand add_bench_plot(CLI::App& bench);

}  // namespace ax::cli
