// ax-engine rm NAME [--cache-dir DIR]: deletes a pulled model ("owner/name": everything pulled from
// that repo; "owner/name:file.gguf": that file).
#include "cli/command.h"
#include "hub/model_cache.h"
#include "util/error.h"

namespace ax::cli {
namespace {

struct RmOptions {
  std::string name;
  std::string cache_dir;
};

int run_rm(const RmOptions& o) {
  const auto name = hub::parse_model_name(o.name);
  if (!name) fail("'{}' is not a pulled model's name: expected owner/name or owner/name:file.gguf", o.name);
  const uint64_t freed = hub::remove_pulled(hub::cache_dir(o.cache_dir), *name);
  std::fprintf(stderr, "removed %s (%s)\n", name->str().c_str(), hub::human_bytes(freed).c_str());
  return 0;
}

const RegisterCommand kRm{"rm", "Delete a pulled model from the local cache", [](CLI::App& sub) {
                            auto o = std::make_shared<RmOptions>();
                            sub.add_option("name", o->name, "owner/name or owner/name:file.gguf (see ax-engine list)")->required();
                            sub.add_option("--cache-dir", o->cache_dir, "cache folder (default: $AX_ENGINE_CACHE, else ~/.cache/ax-engine)");
                            return [o] { return run_rm(*o); };
                          }};

}  // namespace
}  // namespace ax::cli
