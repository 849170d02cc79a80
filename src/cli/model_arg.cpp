#include "cli/model_arg.h"

#include <filesystem>

#include "hub/model_cache.h"
#include "util/error.h"

namespace ax::cli {

std::string resolve_model_arg(const std::string& arg) {
  std::error_code ec;
  if (std::filesystem::exists(arg, ec)) return arg;
  const auto name = hub::parse_model_name(arg);
  if (!name) return arg;  // a path that does not exist: the command says so
  const auto cache = hub::cache_dir();
  if (auto path = hub::find_pulled(cache, *name)) return path->string();
  fail("'{}' is neither a file or folder nor a model pulled into {} (`ax-engine pull {}` fetches it)", arg,
       cache.string(), arg);
}

CLI::Validator pulled_model_names() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        try {
          value = resolve_model_arg(value);
          return {};
        } catch (const Error& e) {
          return e.what();
        }
      },
      "", "pulled model name");
}

}  // namespace ax::cli
