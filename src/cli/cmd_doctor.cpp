// `ax-engine doctor`: what this machine and build can run (backends, CPU features and kernel tier,
// GPUs, memory) and, with --model, whether a model opens, loads its tokenizer and chat template,
// and which backend `auto` would put it on. Problems are said in sentences; the exit status is 1
// when the model given cannot be used.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "cli/command.h"
#include "model/model_source.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "util/system_memory.h"

namespace ax::cli {
namespace {

using nlohmann::ordered_json;

struct DoctorOptions {
  std::string model;
  bool json = false;
};

ordered_json machine_report() {
  ordered_json backends = ordered_json::object();
  for (const BackendReport& r : backend_reports()) {
    ordered_json b = {{"compiled", r.compiled}, {"usable", r.usable}};
    if (r.name == "cpu") {
      b["model"] = r.detail;
      b["features"] = r.features;
      b["kernel_tier"] = r.kernel_tier;
    } else {
      ordered_json devices = ordered_json::array();
      for (const GpuDeviceInfo& d : r.devices)
        devices.push_back({{"index", d.index}, {"name", d.name}, {"memory_mb", d.memory_mb},
                           {"compute_capability", d.compute_capability}});
      b["devices"] = devices;
      if (!r.usable) b["why_not"] = r.detail;
    }
    backends[r.name] = b;
  }
  return {{"backends", backends},
          {"memory", {{"total_mb", total_memory_bytes() >> 20}, {"available_mb", available_memory_bytes() >> 20}}}};
}

// Opens the model and its tokenizer and template; every problem found is one sentence.
ordered_json model_report(const std::string& path) {
  ordered_json m = {{"path", path}};
  std::vector<std::string> problems;
  std::unique_ptr<ModelSource> src;
  try {
    src = open_model(path);
    const ModelConfig& c = src->config();
    m["format"] = src->format();
    m["architecture"] = c.arch_name;
    m["layers"] = c.num_layers;
    m["hidden_size"] = c.hidden_size;
    m["tensors"] = src->tensors().size();
  } catch (const std::exception& e) {
    problems.push_back(e.what());
  }
  if (src) {
    try {
      auto tok = load_tokenizer(*src);
      m["tokenizer"] = tok->kind();
      const std::string tpl = tok->chat_template();
      if (tpl.empty()) {
        m["chat_template"] = "none (chat needs --chatml-fallback)";
      } else {
        try {
          ChatTemplate t(tpl);
          m["chat_template"] = "ok";
        } catch (const std::exception& e) {
          problems.push_back(std::string("the chat template does not parse: ") + e.what());
        }
      }
    } catch (const std::exception& e) {
      problems.push_back(std::string("the tokenizer does not load: ") + e.what());
    }
  }
  std::string backend = "cpu";
  for (const BackendReport& r : backend_reports())
    if (r.name != "cpu" && r.usable) backend = r.name;
  m["auto_backend"] = backend;
  m["problems"] = problems;
  return m;
}

int run_doctor(const DoctorOptions& o) {
  ordered_json report = machine_report();
  if (!o.model.empty()) report["model"] = model_report(o.model);
  const bool model_ok = o.model.empty() || report["model"]["problems"].empty();
  if (o.json) {
    std::printf("%s\n", report.dump(2).c_str());
    return model_ok ? 0 : 1;
  }
  const auto& b = report["backends"];
  std::printf("cpu      %s\n", b["cpu"]["model"].get<std::string>().c_str());
  std::string features;
  for (const auto& f : b["cpu"]["features"]) features += f.get<std::string>() + " ";
  std::printf("         features: %s\n         kernel tier: %s\n", features.c_str(),
              b["cpu"]["kernel_tier"].get<std::string>().c_str());
  std::printf("memory   %lld MiB total, %lld MiB available\n", report["memory"]["total_mb"].get<long long>(),
              report["memory"]["available_mb"].get<long long>());
  for (auto it = b.begin(); it != b.end(); ++it) {
    if (it.key() == "cpu") continue;
    const auto& g = it.value();
    if (!g["compiled"].get<bool>()) {
      std::printf("%-8s not built into this binary\n", it.key().c_str());
    } else if (!g["usable"].get<bool>()) {
      std::printf("%-8s built, no usable device: %s\n", it.key().c_str(), g["why_not"].get<std::string>().c_str());
    } else {
      for (const auto& d : g["devices"])
        std::printf("%-8s device %d: %s, %lld MiB, compute capability %s\n", it.key().c_str(), d["index"].get<int>(),
                    d["name"].get<std::string>().c_str(), d["memory_mb"].get<long long>(),
                    d["compute_capability"].get<std::string>().c_str());
    }
  }
  if (!o.model.empty()) {
    const auto& m = report["model"];
    if (m.contains("architecture"))
      std::printf("model    %s: %s (%s), %lld layers; tokenizer %s; chat template %s; --backend auto picks %s\n",
                  o.model.c_str(), m["architecture"].get<std::string>().c_str(), m["format"].get<std::string>().c_str(),
                  m["layers"].get<long long>(), m.value("tokenizer", std::string("-")).c_str(),
                  m.value("chat_template", std::string("-")).c_str(), m["auto_backend"].get<std::string>().c_str());
    for (const auto& p : m["problems"]) std::printf("problem  %s\n", p.get<std::string>().c_str());
  }
  return model_ok ? 0 : 1;
}

const RegisterCommand kDoctor{"doctor", "Check the machine, the backends and (with --model) a model", [](CLI::App& sub) {
  auto o = std::make_shared<DoctorOptions>();
  sub.add_option("-m,--model", o->model, "A .gguf file or Hugging Face folder to check");
  sub.add_flag("--json", o->json, "Print one JSON object");
  return [o] { return run_doctor(*o); };
}};

}  // namespace
}  // namespace ax::cli
