#include "cli/llama_cpp_peer.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/error.h"

namespace ax::cli {
namespace {

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string run_capture(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>/dev/null").c_str(), "r");
  if (!p) fail("cannot run: {}", cmd);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (::pclose(p) != 0) fail("llama.cpp peer failed: {}", cmd);
  return out;
}

std::string tool(const std::string& name, bool gpu) {
  const std::string path = llama_cpp_bin_dir(gpu) + "/" + name;
  if (!std::filesystem::exists(path))
    fail("{} not found: build llama.cpp with scripts/build-llama-cpp.sh{} (or set AX_LLAMA_CPP_BIN)", path,
         gpu ? " --cuda" : "");
  return path;
}

}  // namespace

std::string llama_cpp_bin_dir(bool gpu) {
  if (const char* env = std::getenv("AX_LLAMA_CPP_BIN")) return env;
  return std::string(AX_SOURCE_DIR) + (gpu ? "/third_party/llama.cpp/build-cuda/bin" : "/third_party/llama.cpp/build-cpu/bin");
}

PeerResult run_llama_bench(const std::string& model, int64_t prompt, int64_t gen, int64_t depth, int threads, bool gpu) {
  const std::string cmd = fmt::format("{} -m {} -p {} -n {} -d {} -t {} -r 1 -o json{}", quote(tool("llama-bench", gpu)),
                                      quote(model), prompt, gen, depth, threads, gpu ? " -ngl 99 -fa 1" : "");
  const auto rows = nlohmann::json::parse(run_capture(cmd));
  PeerResult r;
  for (const auto& row : rows) {
    if (row.value("n_prompt", 0) > 0 && row.value("n_gen", 0) == 0) r.prefill_tps = row.at("avg_ts").get<double>();
    if (row.value("n_gen", 0) > 0 && row.value("n_prompt", 0) == 0) r.decode_tps = row.at("avg_ts").get<double>();
  }
  if (r.prefill_tps <= 0 || r.decode_tps <= 0) fail("llama-bench printed no pp/tg rows for {}", model);
  return r;
}

PeerResult run_llama_batched_bench(const std::string& model, int64_t prompt, int64_t gen, int64_t batch, int threads,
                                   bool gpu) {
  const int64_t ctx = (prompt + gen) * batch + 64;
  const std::string cmd = fmt::format(
      "{} -m {} -c {} -b 2048 -ub 512 -npp {} -ntg {} -npl {} -t {} --output-format jsonl{}",
      quote(tool("llama-batched-bench", gpu)), quote(model), ctx, prompt, gen, batch, threads, gpu ? " -ngl 99 -fa on" : "");
  std::istringstream lines(run_capture(cmd));
  PeerResult r;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '{') continue;
    const auto row = nlohmann::json::parse(line);
    if (row.value("pl", 0) != batch) continue;
    r.prefill_tps = row.at("speed_pp").get<double>();
    r.decode_tps = row.at("speed_tg").get<double>();
  }
  if (r.decode_tps <= 0) fail("llama-batched-bench printed no row for {} sequences on {}", batch, model);
  return r;
}

}  // namespace ax::cli
