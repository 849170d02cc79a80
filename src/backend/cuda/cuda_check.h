#pragma once
// Error checks for CUDA runtime calls (host code; .cpp and .cu alike). A failed call throws
// ax::Error naming the call and CUDA's reason.
#include <cuda_runtime.h>

namespace ax::cuda {

[[noreturn]] void throw_cuda_error(const char* call, cudaError_t err);
[[noreturn]] void throw_usage_error(const char* what);

#define AX_CUDA_CHECK(expr)                                                   \
  do {                                                                        \
    const cudaError_t ax_err_ = (expr);                                       \
    if (ax_err_ != cudaSuccess) ::ax::cuda::throw_cuda_error(#expr, ax_err_); \
  } while (0)

// After a kernel launch: a bad configuration shows here, a fault in the kernel at the next sync.
#define AX_CUDA_LAUNCHED() AX_CUDA_CHECK(cudaGetLastError())

}  // namespace ax::cuda
