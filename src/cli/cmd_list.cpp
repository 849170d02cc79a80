// ax-engine list [--cache-dir DIR]: the models `pull` fetched, each with its files and sizes.
#include "cli/command.h"
#include "hub/model_cache.h"

namespace ax::cli {
namespace {

int run_list(const std::string& cache_flag) {
  const auto cache = hub::cache_dir(cache_flag);
  const auto models = hub::list_pulled(cache);
  if (models.empty()) {
    std::fprintf(stderr, "no models pulled into %s (ax-engine pull owner/name fetches one)\n", cache.string().c_str());
    return 0;
  }
  for (const auto& m : models) {
    std::printf("%s  %s  %s  %s\n", m.name.c_str(), m.format.c_str(), hub::human_bytes(m.bytes()).c_str(),
                m.path.string().c_str());
    for (const auto& f : m.files)
      std::printf("  %-44s %10s%s\n", f.path.c_str(), hub::human_bytes(f.bytes).c_str(),
                  f.partial ? "  (partial: pull again to resume)" : "");
  }
  return 0;
}

const RegisterCommand kList{"list", "List the models pulled into the local cache, with their files and sizes",
                            [](CLI::App& sub) {
                              auto cache = std::make_shared<std::string>();
                              sub.add_option("--cache-dir", *cache, "cache folder (default: $AX_ENGINE_CACHE, else ~/.cache/ax-engine)");
                              return [cache] { return run_list(*cache); };
                            }};

}  // namespace
}  // namespace ax::cli
