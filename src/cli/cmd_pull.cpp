// ax-engine pull REPO[:FILE] [--revision R] [--cache-dir DIR]: fetches a Hugging Face model (a
// safetensors folder, or one GGUF file) into the cache, resuming and verifying (hub/pull.h). Prints
// the model's path on stdout; progress goes to stderr.
#include <unistd.h>

#include "cli/command.h"
#include "hub/pull.h"
#include "util/error.h"

namespace ax::cli {
namespace {

struct PullCommandOptions {
  std::string name;
  std::string revision = "main";
  std::string cache_dir;
};

int run_pull(const PullCommandOptions& o) {
  const auto name = hub::parse_model_name(o.name);
  if (!name) fail("'{}' is not a Hugging Face repo name: expected owner/name or owner/name:file.gguf", o.name);
  hub::PullOptions po;
  po.revision = o.revision;
  po.tty = isatty(STDERR_FILENO);
  const auto result = hub::pull_model(hub::HubClient::from_environment(), hub::cache_dir(o.cache_dir), *name, po);
  std::fprintf(stderr, "pulled %s (%s fetched); run it with --model %s\n", result.name.str().c_str(),
               hub::human_bytes(result.downloaded).c_str(), result.name.str().c_str());
  std::printf("%s\n", result.path.string().c_str());
  return 0;
}

const RegisterCommand kPull{
    "pull", "Fetch a model from Hugging Face (owner/name or owner/name:file.gguf) into the local cache",
    [](CLI::App& sub) {
      auto o = std::make_shared<PullCommandOptions>();
      sub.add_option("name", o->name, "owner/name (safetensors, or the repo's Q4_K_M GGUF) or owner/name:file.gguf")
          ->required();
      sub.add_option("--revision", o->revision, "branch, tag or commit")->capture_default_str();
      sub.add_option("--cache-dir", o->cache_dir, "cache folder (default: $AX_ENGINE_CACHE, else ~/.cache/ax-engine)");
      return [o] { return run_pull(*o); };
    }};

}  // namespace
}  // namespace ax::cli
