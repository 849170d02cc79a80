#pragma once
// --kv-type, shared by the subcommands that run a model (serve, generate, chat, bench speed).
#include <CLI/CLI.hpp>

#include "backend/kv_cache.h"

namespace ax::cli {

// --kv-type f16|f32: the KV cache's element type. f16 (the default, as llama.cpp's) halves the
// cache's memory and the bytes attention reads per token; f32 keeps K/V exactly as computed.
void add_kv_type_option(CLI::App& sub, KvType& type);

}  // namespace ax::cli
