#include "bench/machine.h"

#include <sys/utsname.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "backend/backend.h"
#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels/kernels.h"
#include "backend/cpu/memory_bandwidth.h"
#include "bench/build_info.h"
#include "util/thread_pool.h"

namespace ax::bench {
namespace {

using nlohmann::json;

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// "MemTotal:  16384 kB" -> MB; -1 when absent.
double meminfo_mb(const std::string& meminfo, const std::string& key) {
  std::istringstream in(meminfo);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1)) / 1024.0;
  return -1;
}

int64_t meminfo_count(const std::string& meminfo, const std::string& key) {
  std::istringstream in(meminfo);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1));
  return -1;
}

// The selected value of a sysfs choice file: "always [madvise] never" -> "madvise".
std::string bracketed(const std::string& text) {
  const size_t a = text.find('['), b = text.find(']');
  return a != std::string::npos && b != std::string::npos && b > a ? text.substr(a + 1, b - a - 1) : trim(text);
}

json gpus() {
  json list = json::array();
  // nvidia-smi where the driver is installed; the query fields are stable across driver versions.
  if (FILE* p = ::popen("nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader,nounits 2>/dev/null", "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) {
      std::vector<std::string> parts;
      std::stringstream ss(buf);
      for (std::string part; std::getline(ss, part, ',');) parts.push_back(trim(part));
      if (parts.size() >= 3)
        list.push_back({{"name", parts[0]}, {"memory_mb", std::atof(parts[1].c_str())}, {"driver", parts[2]}, {"vendor", "nvidia"}});
    }
    ::pclose(p);
  }
  if (list.empty() && std::filesystem::exists("/dev/nvidia0"))
    list.push_back({{"name", "NVIDIA GPU (nvidia-smi not found)"}, {"vendor", "nvidia"}});
  return list;
}

}  // namespace

// The backends as the engine sees them: {"cpu": {"features", "kernel_tier"}, "cuda": {"compiled",
// "usable", "devices": [{"name", "memory_mb", "compute_capability"}], "why_not"}}.
json backends_json() {
  json out = json::object();
  for (const BackendReport& r : backend_reports()) {
    json b = {{"compiled", r.compiled}, {"usable", r.usable}};
    if (r.name == "cpu") {
      b["features"] = r.features;
      b["kernel_tier"] = r.kernel_tier;
    } else {
      json devices = json::array();
      for (const GpuDeviceInfo& d : r.devices)
        devices.push_back({{"index", d.index}, {"name", d.name}, {"memory_mb", d.memory_mb},
                           {"compute_capability", d.compute_capability}});
      b["devices"] = devices;
      if (!r.usable) b["why_not"] = r.detail;
    }
    out[r.name] = b;
  }
  return out;
}

json build_json() {
  const BuildInfo& b = build_info();
  json compiled = json::array();
  for (const BackendReport& r : backend_reports())
    if (r.compiled) compiled.push_back(r.name);
  return {{"commit", b.commit}, {"dirty", b.dirty}, {"build_type", b.build_type}, {"cxx_flags", b.cxx_flags},
          {"compiler", b.compiler}, {"backends", compiled}};
}

json machine_info(bool measure_bandwidth) {
  const auto& f = cpu::cpu_features();
  const std::string meminfo = read_text("/proc/meminfo");
  json cpu = {{"model", f.model_name},
              {"logical_cores", std::thread::hardware_concurrency()},
              {"features", f.summary()},
              {"kernels", cpu::kernels::kernel_tier_description()},
              {"amx_usable", cpu::amx_usable()}};
  json memory = {{"total_mb", meminfo_mb(meminfo, "MemTotal")}, {"available_mb", meminfo_mb(meminfo, "MemAvailable")}};
  if (measure_bandwidth) memory["read_bandwidth_gb_s"] = cpu::measure_read_bandwidth_gbps(default_thread_pool(), 1.0);
  json huge = {{"transparent", bracketed(read_text("/sys/kernel/mm/transparent_hugepage/enabled"))},
               {"transparent_defrag", bracketed(read_text("/sys/kernel/mm/transparent_hugepage/defrag"))},
               {"reserved_total", meminfo_count(meminfo, "HugePages_Total")},
               {"reserved_free", meminfo_count(meminfo, "HugePages_Free")},
               {"page_size_kb", meminfo_count(meminfo, "Hugepagesize")}};
  struct utsname u {};
  uname(&u);
  std::string pretty;
  std::istringstream os_release(read_text("/etc/os-release"));
  for (std::string line; std::getline(os_release, line);)
    if (line.rfind("PRETTY_NAME=", 0) == 0) pretty = line.substr(12);
  if (pretty.size() >= 2 && pretty.front() == '"') pretty = pretty.substr(1, pretty.size() - 2);
  json os = {{"name", pretty}, {"kernel", std::string(u.sysname) + " " + u.release}, {"arch", u.machine}};
  return {{"cpu", cpu},       {"memory", memory}, {"gpus", gpus()},
          {"backends", backends_json()}, {"huge_pages", huge}, {"os", os}};
}

}  // namespace ax::bench
