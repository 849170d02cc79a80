#include "backend/backend.h"

#include "util/error.h"

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

void Backend::sigmoid_mul(Tensor, const Tensor&) {
  fail("{} backend: gated outputs (sigmoid_mul) are not supported on this backend yet", name());
}

void Backend::gated_delta(const StepView&, KvCache&, const GatedDeltaParams&, Tensor, const Tensor&, const Tensor&,
                          Tensor) {
  fail("{} backend: gated-delta linear attention is not supported on this backend yet", name());
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

}  // namespace ax
