#include "bench/llama_cpp_build.h"

#include <filesystem>
#include <fstream>
#include <set>

namespace ax::bench {

std::string llama_cpp_build_isa(const std::string& bin_dir) {
  std::filesystem::path bin(bin_dir);
  if (!bin.has_filename()) bin = bin.parent_path();  // "…/bin/"
  std::ifstream cache(bin.parent_path() / "CMakeCache.txt");
  if (!cache) return "";
  std::set<std::string> on;  // option names without GGML_, e.g. AVX512_VNNI
  for (std::string line; std::getline(cache, line);) {
    const size_t colon = line.find(':');
    if (line.rfind("GGML_", 0) != 0 || colon == std::string::npos) continue;
    const size_t eq = line.find('=', colon);
    if (eq != std::string::npos && line.substr(eq + 1) == "ON") on.insert(line.substr(5, colon - 5));
  }
  if (on.count("NATIVE")) return "native (-march=native)";
  // Option, label: the order and words of scripts/build-llama-cpp.sh.
  static const char* const kOptions[][2] = {
      {"SSE42", "SSE4.2"},         {"AVX", "AVX"},                 {"AVX2", "AVX2"},
      {"FMA", "FMA"},              {"F16C", "F16C"},               {"BMI2", "BMI2"},
      {"AVX_VNNI", "AVX-VNNI"},    {"AVX512", "AVX-512"},          {"AVX512_VNNI", "AVX512-VNNI"},
      {"AVX512_BF16", "AVX512-BF16"}, {"AVX512_VBMI", "AVX512-VBMI"}, {"AMX_TILE", "AMX-TILE"},
      {"AMX_INT8", "AMX-INT8"},    {"AMX_BF16", "AMX-BF16"}};
  std::string s;
  for (const auto& o : kOptions)
    if (on.count(o[0])) s += (s.empty() ? "" : " ") + std::string(o[1]);
  return s.empty() ? "no x86 ISA option on" : s;
}

}  // namespace ax::bench
