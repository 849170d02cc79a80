#pragma once
// Where pulled models live and how their names map to paths.
//   cache dir:  --cache-dir, else $AX_ENGINE_CACHE, else $XDG_CACHE_HOME/ax-engine, else
//               ~/.cache/ax-engine
//   layout:     <cache>/models/<owner>/<name>/<repo files>; a download in progress is <file>.part
//   names:      "owner/name" (the Hugging Face folder, or the one GGUF file pulled from that repo)
//               and "owner/name:file.gguf" (one GGUF file)
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ax::hub {

namespace fs = std::filesystem;

// The cache folder: `flag` when not empty, else the environment's choice (see above).
fs::path cache_dir(const std::string& flag = "");

// A pulled model's name: the repo and, for one GGUF file, that file's path in the repo.
struct ModelName {
  std::string repo;  // "owner/name"
  std::string file;  // "" or "model-Q4_K_M.gguf"
  std::string str() const { return file.empty() ? repo : repo + ":" + file; }
};

// Parses "owner/name[:file]"; nullopt when `text` is not of that shape (a path, say). Owner and name
// are what the hub allows (letters, digits, '-', '_', '.', not "." or ".."); the file has no ".."
// segment, so a name never points outside the cache.
std::optional<ModelName> parse_model_name(const std::string& text);

// The folder of a repo in the cache.
fs::path repo_dir(const fs::path& cache, const std::string& repo);

// The path a pulled name stands for (an HF folder or a .gguf file), or nullopt when nothing
// complete is pulled under that name. Throws ax::Error when "owner/name" is ambiguous (several GGUF
// files and no HF folder), listing the full names.
std::optional<fs::path> find_pulled(const fs::path& cache, const ModelName& name);

// What `ax-engine list` shows: one entry per pulled model.
struct PulledFile {
  std::string path;   // relative to the repo folder
  uint64_t bytes = 0;
  bool partial = false;  // a .part file: a download not finished (pull again to resume)
};
struct PulledModel {
  std::string name;    // "owner/name" or "owner/name:file.gguf"
  std::string format;  // "safetensors" or "gguf"
  fs::path path;
  std::vector<PulledFile> files;
  uint64_t bytes() const;
};
std::vector<PulledModel> list_pulled(const fs::path& cache);

// Deletes a pulled model: "owner/name" the repo's whole folder, "owner/name:file" that file (and
// its .part). Returns the bytes freed; throws ax::Error when nothing has that name.
uint64_t remove_pulled(const fs::path& cache, const ModelName& name);

// "31.6 MB": sizes for people (decimal units, as the hub shows them).
std::string human_bytes(uint64_t bytes);

}  // namespace ax::hub
