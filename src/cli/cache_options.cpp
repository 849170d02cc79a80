#include "cli/cache_options.h"

#include <string>

namespace ax::cli {

void add_kv_type_option(CLI::App& sub, KvType& type) {
  sub.add_option_function<std::string>(
         "--kv-type", [&type](const std::string& name) { type = *kv_type_from_name(name); },
         "KV cache element type: f16 (half the memory and KV reads) or f32 (exact K/V)")
      ->check(CLI::IsMember({"f16", "f32"}))
      ->default_str(std::string(kv_type_name(type)));
}

}  // namespace ax::cli
