#pragma once
// `ax-engine pull`: which files of a repo a model needs, and fetching them into the cache with
// resume and verification.
//   - a safetensors repo (config.json + *.safetensors): the config, generation config, tokenizer
//     and chat-template files, the weight index and the shards it names (all *.safetensors at the
//     top when there is no index); nothing else (no other formats, no subfolders)
//   - one GGUF file: the one asked for, else the repo's only one, else its Q4_K_M one (as
//     llama.cpp's -hf picks)
// Each file downloads to <file>.part and becomes <file> only once its size and digest (sha256 for
// LFS files, the git blob id for the others) match the hub's; a .part left by an interrupted pull
// continues with a Range request. A file already complete with the right size is kept.
#include <cstdio>
#include <string>
#include <vector>

#include "hub/hub_client.h"
#include "hub/model_cache.h"

namespace ax::hub {

// The files a model needs from a repo's listing (see above): for a safetensors repo every
// candidate shard (pull narrows them to the index's once it has the index). Throws ax::Error
// naming what is missing, listing the repo's GGUF files when the choice is not clear.
std::vector<HubFile> select_files(const std::vector<HubFile>& listing, const ModelName& name);

// How pull reports: a progress line redrawn in place on a terminal, else one line per file.
struct PullOptions {
  std::string revision = "main";
  int attempts = 5;      // tries per file when the connection fails or drops (each resumes)
  double retry_wait_s = 1.0;  // before the second try; doubles after each
  std::FILE* log = stderr;
  bool tty = false;
};

struct PullResult {
  ModelName name;       // the name to run it by: "owner/name" or "owner/name:file.gguf"
  fs::path path;        // the HF folder or the .gguf file
  uint64_t downloaded = 0;  // bytes fetched by this pull (0: everything was already here)
};

PullResult pull_model(const HubClient& hub, const fs::path& cache, const ModelName& name, const PullOptions& options);

}  // namespace ax::hub
