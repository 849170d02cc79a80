#pragma once
// --backend, --device and --threads, shared by the subcommands that run a model (serve, generate,
// chat, bench speed).
#include <CLI/CLI.hpp>

#include "backend/backend.h"

namespace ax::cli {

// --backend cpu|cuda|auto (auto: the GPU when one is present), --device N (CUDA device index),
// -t/--threads N (CPU threads; 0: all).
void add_backend_options(CLI::App& sub, BackendOptions& o);

}  // namespace ax::cli
