// ax-engine doctor [--json] [--models DIR]... [--no-bandwidth]: what this machine can run.
// Searches the bundled models/, $AX_MODELS (folders separated by ':'), the Hugging Face cache and
// every --models DIR. Exit 1 when a finding is a problem (a model that cannot run, a CPU without
// the vector kernels), else 0.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "bench/doctor.h"
#include "cli/command.h"
#include "cli/llama_cpp_peer.h"

namespace ax::cli {
namespace {

struct DoctorCliOptions {
  bool json = false;
  bool no_bandwidth = false;
  std::vector<std::string> models;
};

std::vector<std::string> model_dirs(const DoctorCliOptions& o) {
  namespace fs = std::filesystem;
  std::vector<std::string> dirs = {std::string(AX_SOURCE_DIR) + "/models"};
  if (const char* env = std::getenv("AX_MODELS")) {
    std::stringstream ss(env);
    for (std::string d; std::getline(ss, d, ':');)
      if (!d.empty()) dirs.push_back(d);
  }
  std::string hf;
  if (const char* env = std::getenv("HF_HOME")) hf = std::string(env) + "/hub";
  else if (const char* home = std::getenv("HOME")) hf = std::string(home) + "/.cache/huggingface/hub";
  std::error_code ec;
  if (!hf.empty() && fs::is_directory(hf, ec)) dirs.push_back(hf);
  dirs.insert(dirs.end(), o.models.begin(), o.models.end());
  return dirs;
}

int run_doctor(const DoctorCliOptions& o) {
  bench::DoctorOptions d;
  d.model_dirs = model_dirs(o);
  d.measure_bandwidth = !o.no_bandwidth;
  d.llama_cpp_dir = llama_cpp_bin_dir();
  const nlohmann::json report = bench::doctor_report(d);
  if (o.json) std::printf("%s\n", report.dump(2).c_str());
  else std::fputs(bench::doctor_text(report).c_str(), stdout);
  for (const auto& f : report["findings"])
    if (f["level"] == "problem") return 1;
  return 0;
}

RegisterCommand reg_doctor("doctor", "What this machine can run: CPU features, memory bandwidth, GPUs, huge pages, models",
                           [](CLI::App& app) -> CommandRun {
  auto o = std::make_shared<DoctorCliOptions>();
  app.add_flag("--json", o->json, "print the report as JSON");
  app.add_option("--models", o->models, "more folders (or model files) to look for models in");
  app.add_flag("--no-bandwidth", o->no_bandwidth, "skip the one-second memory bandwidth measurement");
  return [o] { return run_doctor(*o); };
});

}  // namespace
}  // namespace ax::cli
