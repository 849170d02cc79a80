#include "backend/backend.h"

#include <sstream>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels/kernels.h"
#include "backend/cpu/kernels/packed.h"
#include "util/error.h"
#ifdef AX_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

namespace ax {

DeviceVector Backend::load_vector(std::span<const float> v) {
  DeviceVector d;
  d.size = static_cast<int64_t>(v.size());
  if (v.empty()) return d;
  d.buf = alloc(v.size_bytes());
  copy_to_device(d.buf.data(), v.data(), v.size_bytes());
  return d;
}

RopeTable Backend::load_rope(const RopeFreqs& f) {
  RopeTable r;
  r.freqs = f;
  r.inv_freq = load_vector(f.inv_freq);
  return r;
}

void Backend::linear_many(std::span<const Weight* const> ws, const Tensor& x, std::span<const Tensor> ys) {
  for (size_t i = 0; i < ws.size(); ++i) linear(*ws[i], x, ys[i]);
}

void Backend::add_rms_norm(Tensor x, const Tensor& y, const DeviceVector& w, float eps, Tensor out) {
  add(x, y);
  rms_norm(x, w, eps, out);
}

void Workspace::reserve(int64_t floats) {
  used_ = 0;
  const size_t bytes = static_cast<size_t>(floats) * sizeof(float);
  if (bytes <= buf_.bytes()) return;
  buf_.reset();
  // A little headroom, so a step one row longer than the last does not reallocate.
  buf_ = be_.alloc(bytes + bytes / 8);
}

Tensor Workspace::take(int64_t rows, int64_t cols) {
  // Each tensor starts on a 64-byte boundary (vector loads, and CUDA's 16-byte accesses).
  const int64_t n = (rows * cols + 15) / 16 * 16;
  if (static_cast<size_t>(used_ + rows * cols) * sizeof(float) > buf_.bytes())
    fail("workspace: {} x {} floats do not fit the {} bytes reserved for this step", rows, cols, buf_.bytes());
  Tensor t{buf_.as<float>() + used_, rows, cols};
  used_ += n;
  return t;
}

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
