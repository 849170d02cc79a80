#pragma once
// `ax-engine doctor`: what this machine can run. The machine (machine.h: CPU features and kernel
// tier, memory and its read bandwidth, GPUs, huge pages), the build, the llama.cpp peer, and every
// model found in the given folders (opened and validated, not loaded), then findings: what is
// wrong or slow, each with what to do about it.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ax::bench {

struct DoctorOptions {
  std::vector<std::string> model_dirs;  // searched up to 4 levels deep for .gguf files and HF folders
  bool measure_bandwidth = true;
  std::string llama_cpp_dir;            // where llama.cpp's binaries would be
};

enum class Level { Ok, Info, Warning, Problem };
const char* to_string(Level l);

struct Finding {
  Level level = Level::Info;
  std::string what;
};

// Every model under dirs: {"path", "ok", "format", "architecture", "parameters", "bytes",
// "context"} or {"path", "ok": false, "error"}.
nlohmann::json scan_models(const std::vector<std::string>& dirs);
// Findings about the machine alone (machine_info's JSON) and the models (scan_models's).
std::vector<Finding> machine_findings(const nlohmann::json& machine);
std::vector<Finding> model_findings(const nlohmann::json& models, double available_mb);

// The whole report: {"build", "machine", "llama_cpp", "models", "findings"}.
nlohmann::json doctor_report(const DoctorOptions& o);
std::string doctor_text(const nlohmann::json& report);

}  // namespace ax::bench
