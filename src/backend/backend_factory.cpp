// Which backends this build has and this machine can run, and making the one asked for. Kept
// apart from backend.cpp (the interface's shared code) so that what needs only the interface
// (the model code, the fuzzers) links without the CPU kernels and the CUDA runtime.
#include <sstream>

#include "backend/backend.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels/kernels.h"
#include "backend/cpu/kernels/packed.h"
#include "util/error.h"
#ifdef AX_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

namespace ax {

bool cuda_compiled() {
#ifdef AX_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

std::vector<GpuDeviceInfo> cuda_devices(std::string* error) {
#ifdef AX_HAVE_CUDA
  return cuda::list_devices(error);
#else
  if (error) *error = "this build has no CUDA backend (nvcc was not found when it was configured)";
  return {};
#endif
}

std::vector<BackendReport> backend_reports() {
  BackendReport cpu;
  cpu.name = "cpu";
  cpu.compiled = cpu.usable = true;
  const auto& f = cpu::cpu_features();
  cpu.detail = f.model_name;
  std::istringstream words(f.summary());
  for (std::string w; words >> w;)
    if (w != "none") cpu.features.push_back(w);
  cpu.kernel_tier = cpu::kernels::kernel_tier();
  BackendReport gpu;
  gpu.name = "cuda";
  gpu.compiled = cuda_compiled();
  gpu.devices = cuda_devices(&gpu.detail);
  gpu.usable = !gpu.devices.empty();
  return {cpu, gpu};
}

// Whether `auto` may pick the CUDA backend. The CUDA backend has not yet run on a GPU (no device
// machine could be had when it was written): until its tests pass on one (scripts/test-gpu.sh),
// it runs only when asked for by name.
constexpr bool kCudaValidated = false;

std::unique_ptr<Backend> make_backend(const BackendOptions& opts) {
  if (opts.kind == "cpu" || (opts.kind == "auto" && !kCudaValidated)) return cpu::make_cpu_backend(opts);
  if (opts.kind == "cuda" || opts.kind == "auto") {
    std::string why;
    const std::vector<GpuDeviceInfo> devices = cuda_devices(&why);
    if (devices.empty()) {
      if (opts.kind == "auto") return cpu::make_cpu_backend(opts);
      fail("--backend cuda: no CUDA device is usable: {}", why);
    }
    if (opts.device < 0 || opts.device >= static_cast<int>(devices.size()))
      fail("--device {}: this machine has {} CUDA device(s), numbered from 0", opts.device, devices.size());
#ifdef AX_HAVE_CUDA
    return cuda::make_cuda_backend(opts);
#endif
  }
  fail("--backend '{}': expected cpu, cuda or auto", opts.kind);
}

}  // namespace ax
