#pragma once
// What this machine is and how this binary was built, as JSON: the CPU (model, cores, the
// features the kernels dispatch on, the kernel tier they chose), memory (total, available,
// optionally the measured read bandwidth), GPUs, huge pages, the OS, and the build (commit,
// options, compiler). Benchmark artifacts record it (environment.json); `ax-engine doctor`
// prints it and says what it means.
#include <nlohmann/json.hpp>

namespace ax::bench {

// measure_bandwidth: stream a 1 GiB buffer for about a second (memory.read_bandwidth_gb_s).
nlohmann::json machine_info(bool measure_bandwidth);
nlohmann::json build_json();

}  // namespace ax::bench
