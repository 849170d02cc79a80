#pragma once
// --model on every command takes a path (a .gguf file or a Hugging Face folder) or the name of a
// model `ax-engine pull` fetched ("owner/name" or "owner/name:file.gguf", found in the cache that
// AX_ENGINE_CACHE or ~/.cache/ax-engine names). An existing path always wins.
#include <CLI/CLI.hpp>
#include <string>

namespace ax::cli {

// The path `arg` stands for; throws ax::Error for a name that is not pulled (saying how to pull it).
std::string resolve_model_arg(const std::string& arg);

// resolve_model_arg as a CLI11 transform: add_option("--model", ...)->transform(pulled_model_names()).
CLI::Validator pulled_model_names();

}  // namespace ax::cli
