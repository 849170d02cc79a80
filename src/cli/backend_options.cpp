#include "cli/backend_options.h"

namespace ax::cli {

void add_backend_options(CLI::App& sub, BackendOptions& o) {
  sub.add_option("--backend", o.kind,
                 "Where the model runs: cpu, cuda (experimental: not yet validated on a GPU), or auto (cpu until "
                 "the cuda backend is validated)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  sub.add_option("--device", o.device, "CUDA device index (--backend cuda/auto)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub.add_option("-t,--threads", o.threads, "CPU threads (0: all)")->check(CLI::NonNegativeNumber)->capture_default_str();
  sub.add_option("--gpu-memory-fraction", o.gpu_memory_fraction,
                 "Share of the GPU memory free after the weights that the KV cache may take")
      ->check(CLI::Range(0.01, 1.0))
      ->capture_default_str();
}

}  // namespace ax::cli
