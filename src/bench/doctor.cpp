#include "bench/doctor.h"

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>

#include "bench/llama_cpp_build.h"
#include "bench/machine.h"
#include "model/model_source.h"

namespace ax::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool is_hf_folder(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec) && fs::exists(p / "config.json", ec);
}

void find_candidates(const fs::path& dir, int depth, std::vector<fs::path>& out) {
  std::error_code ec;
  if (is_hf_folder(dir)) {
    out.push_back(dir);
    return;
  }
  if (depth < 0) return;
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(dir, fs::directory_options::skip_permission_denied, ec)) entries.push_back(e.path());
  std::sort(entries.begin(), entries.end());
  for (const fs::path& p : entries) {
    if (p.filename().string().rfind('.', 0) == 0) continue;  // hidden
    if (fs::is_directory(p, ec)) find_candidates(p, depth - 1, out);
    else if (p.extension() == ".gguf") out.push_back(p);
  }
}

uintmax_t bytes_of(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_directory(p, ec)) return fs::file_size(p, ec);
  uintmax_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(p, ec))
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  return total;
}

// A model's error, led by its path (errors from the readers already name it).
std::string error_naming(const json& m) {
  const std::string path = m.value("path", "?"), error = m.value("error", "?");
  return error.rfind(path, 0) == 0 ? error : path + ": " + error;
}

std::string human_count(double n) {
  if (n >= 1e9) return fmt::format("{:.1f}B", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.1f}M", n / 1e6);
  return fmt::format("{:.0f}K", n / 1e3);
}

}  // namespace

const char* to_string(Level l) {
  switch (l) {
    case Level::Ok: return "ok";
    case Level::Info: return "info";
    case Level::Warning: return "warning";
    case Level::Problem: return "problem";
  }
  return "?";
}

json scan_models(const std::vector<std::string>& dirs) {
  json out = json::array();
  std::vector<fs::path> found;
  for (const auto& d : dirs) {
    std::error_code ec;
    if (fs::is_regular_file(d, ec)) found.push_back(d);
    else if (fs::is_directory(d, ec)) find_candidates(d, 4, found);
  }
  for (const fs::path& p : found) {
    json m = {{"path", p.string()}, {"bytes", bytes_of(p)}};
    try {
      const auto src = open_model(p.string());
      if (!src->find("model.embed_tokens.weight"))
        throw std::runtime_error(p.string() + ": no weights (no token embedding): a vocabulary-only file?");
      double params = 0;
      for (const auto& [name, t] : src->tensors()) params += static_cast<double>(t.numel());
      m["ok"] = true;
      m["format"] = src->format();
      m["architecture"] = src->config().arch_name;
      m["parameters"] = params;
      m["context"] = src->config().max_position_embeddings;
    } catch (const std::exception& e) {
      m["ok"] = false;
      m["error"] = e.what();
    }
    out.push_back(m);
  }
  return out;
}

std::vector<Finding> machine_findings(const json& machine) {
  std::vector<Finding> f;
  const json& cpu = machine.value("cpu", json::object());
  const std::string kernels = cpu.value("kernels", "");
  if (kernels.find("AX_CPU_TIER") != std::string::npos)
    f.push_back({Level::Warning, "CPU kernels: " + kernels + ": unset AX_CPU_TIER for full speed"});
  else if (kernels == "scalar reference")
    f.push_back({Level::Problem, "the CPU lacks AVX2/FMA/F16C: only the scalar reference kernels run, many times slower"});
  else
    f.push_back({Level::Ok, "CPU kernels: " + kernels});
  const json& mem = machine.value("memory", json::object());
  const double avail = mem.value("available_mb", 0.0);
  if (avail > 0 && avail < 2048)
    f.push_back({Level::Warning, fmt::format("only {:.0f} MB of memory available: the KV cache gets 25 % of it by default", avail)});
  if (mem.contains("read_bandwidth_gb_s")) {
    const double bw = mem["read_bandwidth_gb_s"].get<double>();
    f.push_back({Level::Info, fmt::format("memory read bandwidth {:.1f} GB/s: a decode step reads every weight once, so a "
                                          "4 GB model decodes at most about {:.0f} tokens/s here",
                                          bw, bw / 4.0)});
  }
  const std::string thp = machine.value("huge_pages", json::object()).value("transparent", "");
  if (thp == "never")
    f.push_back({Level::Warning, "transparent huge pages are off: the KV pool and packed weights fall back to 4 KiB pages "
                                 "(slower); enable with: echo madvise > /sys/kernel/mm/transparent_hugepage/enabled"});
  else if (!thp.empty())
    f.push_back({Level::Ok, "transparent huge pages: " + thp + " (the engine asks for them with madvise)"});
  const json& gpus = machine.value("gpus", json::array());
  const json cuda = machine.value("backends", json::object()).value("cuda", json::object());
  if (cuda.value("usable", false)) {
    f.push_back({Level::Info, fmt::format("the cuda backend can run on {} device(s) ({}) with --backend cuda "
                                          "(experimental: not yet validated on a GPU, so auto stays on the cpu)",
                                          cuda["devices"].size(), cuda["devices"][0].value("name", "?"))});
  } else if (!gpus.empty() && !cuda.value("compiled", false)) {
    f.push_back({Level::Warning, fmt::format("{} GPU(s) found ({}), but this build has no cuda backend (nvcc was not "
                                             "found when it was configured)", gpus.size(), gpus[0].value("name", "?"))});
  } else if (!gpus.empty()) {
    f.push_back({Level::Problem, fmt::format("{} GPU(s) found ({}), but the cuda backend cannot use them: {}", gpus.size(),
                                             gpus[0].value("name", "?"), cuda.value("why_not", std::string("?")))});
  }
  return f;
}

std::vector<Finding> model_findings(const json& models, double available_mb) {
  std::vector<Finding> f;
  if (models.empty()) f.push_back({Level::Info, "no models found (pass --models DIR)"});
  for (const json& m : models) {
    const std::string path = m.value("path", "?");
    if (!m.value("ok", false)) {
      f.push_back({Level::Problem, "cannot run " + error_naming(m)});
      continue;
    }
    const double mb = m.value("bytes", 0.0) / (1024.0 * 1024.0);
    if (available_mb > 0 && mb > available_mb)
      f.push_back({Level::Warning, fmt::format("{} needs {:.0f} MB for its weights but {:.0f} MB are available", path, mb, available_mb)});
  }
  return f;
}

json doctor_report(const DoctorOptions& o) {
  json r;
  r["build"] = build_json();
  r["machine"] = machine_info(o.measure_bandwidth);
  json peer = {{"dir", o.llama_cpp_dir}};
  for (const char* tool : {"llama-bench", "llama-batched-bench", "llama-server"})
    peer[tool] = fs::exists(fs::path(o.llama_cpp_dir) / tool);
  peer["isa"] = llama_cpp_build_isa(o.llama_cpp_dir);
  r["llama_cpp"] = peer;
  r["model_dirs"] = o.model_dirs;
  r["models"] = scan_models(o.model_dirs);
  std::vector<Finding> f = machine_findings(r["machine"]);
  const std::vector<Finding> mf = model_findings(r["models"], r["machine"]["memory"].value("available_mb", 0.0));
  f.insert(f.end(), mf.begin(), mf.end());
  if (!peer["llama-bench"].get<bool>() || !peer["llama-server"].get<bool>())
    f.push_back({Level::Info, "llama.cpp peer not (fully) built: scripts/build-llama-cpp.sh builds llama-bench and llama-server "
                              "(needed only for bench speed --peer and bench run --url against llama-server)"});
  json findings = json::array();
  for (const Finding& x : f) findings.push_back({{"level", to_string(x.level)}, {"what", x.what}});
  r["findings"] = findings;
  return r;
}

std::string doctor_text(const json& r) {
  const json& m = r["machine"];
  const json& b = r["build"];
  std::string s = "AX Engine doctor\n\n";
  s += fmt::format("build      {}{} ({}, {}), backends: cpu\n", b.value("commit", "?").substr(0, 12),
                   b.value("dirty", false) ? "+dirty" : "", b.value("build_type", "?"), b.value("compiler", "?"));
  s += fmt::format("cpu        {}, {} logical cores\n           features: {}\n           kernels: {}\n",
                   m["cpu"].value("model", "?"), m["cpu"].value("logical_cores", 0), m["cpu"].value("features", ""),
                   m["cpu"].value("kernels", "?"));
  s += fmt::format("memory     {:.0f} MB total, {:.0f} MB available", m["memory"].value("total_mb", 0.0),
                   m["memory"].value("available_mb", 0.0));
  if (m["memory"].contains("read_bandwidth_gb_s"))
    s += fmt::format("; read bandwidth {:.1f} GB/s", m["memory"]["read_bandwidth_gb_s"].get<double>());
  s += "\n";
  std::string gpus;
  for (const json& g : m["gpus"]) gpus += (gpus.empty() ? "" : ", ") + g.value("name", "?");
  s += fmt::format("gpus       {}\n", gpus.empty() ? "none" : gpus);
  const json cuda = m.value("backends", json::object()).value("cuda", json::object());
  if (!cuda.value("compiled", false)) {
    s += "cuda       not built into this binary\n";
  } else if (!cuda.value("usable", false)) {
    s += fmt::format("cuda       built; no usable device ({})\n", cuda.value("why_not", std::string("?")));
  } else {
    for (const json& d : cuda["devices"])
      s += fmt::format("cuda       device {}: {}, {} MiB, compute capability {}\n", d.value("index", 0),
                       d.value("name", "?"), d.value("memory_mb", int64_t{0}), d.value("compute_capability", "?"));
  }
  const json& hp = m["huge_pages"];
  s += fmt::format("huge pages transparent: {} (defrag: {}); reserved {} of {} kB\n", hp.value("transparent", "?"),
                   hp.value("transparent_defrag", "?"), hp.value("reserved_total", int64_t{0}), hp.value("page_size_kb", int64_t{0}));
  s += fmt::format("os         {} ({}, {})\n", m["os"].value("name", "?"), m["os"].value("kernel", "?"), m["os"].value("arch", "?"));
  const json& p = r["llama_cpp"];
  s += fmt::format("llama.cpp  llama-bench {}, llama-server {} ({})\n", p["llama-bench"].get<bool>() ? "found" : "missing",
                   p["llama-server"].get<bool>() ? "found" : "missing", p.value("dir", ""));
  if (!p.value("isa", "").empty()) s += fmt::format("           built for: {}\n", p.value("isa", ""));
  std::string dirs;
  for (const json& d : r["model_dirs"]) dirs += (dirs.empty() ? "" : ", ") + d.get<std::string>();
  s += fmt::format("models     searched {}\n", dirs.empty() ? "(nothing)" : dirs);
  for (const json& x : r["models"]) {
    if (x.value("ok", false))
      s += fmt::format("  ok       {}: {} ({}), {} parameters, {:.1f} MB, context {}\n", x["path"].get<std::string>(),
                       x.value("architecture", "?"), x.value("format", "?"), human_count(x.value("parameters", 0.0)),
                       x.value("bytes", 0.0) / 1e6, x.value("context", int64_t{0}));
    else
      s += fmt::format("  cannot   {}\n", error_naming(x));
  }
  s += "\nfindings\n";
  for (const json& f : r["findings"]) s += fmt::format("  {:<8} {}\n", f["level"].get<std::string>(), f["what"].get<std::string>());
  return s;
}

}  // namespace ax::bench
