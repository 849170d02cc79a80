#pragma once
// The CUDA backend (built when nvcc is found): weights, KV pool and activations in device memory,
// one stream, decode steps replayed as CUDA graphs. Plain C++: nothing here names a CUDA type, so
// backend/backend.cpp can include it.
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace ax::cuda {

// Devices the driver reports; empty (with *error saying why) without a driver or a GPU.
std::vector<GpuDeviceInfo> list_devices(std::string* error);

std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options);

}  // namespace ax::cuda
