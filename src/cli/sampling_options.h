#pragma once
// The sampling flags every generating subcommand shares (generate, chat), with the terminal defaults
// (temperature 0.8, top-p 0.95). --seed stays with each command: what a seed means differs (one
// generation, or the first reply of a conversation).
#include <CLI/CLI.hpp>

#include "engine/sampler.h"

namespace ax::cli {

void add_sampling_options(CLI::App& sub, SamplingParams& sampling);

}  // namespace ax::cli
