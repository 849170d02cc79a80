#pragma once
// The CPU backend: host memory, weights read in place from the mapped file (or repacked into tiles
// for the AVX-512 kernels), ops on the process-wide thread pool. With options.reference every op
// is the scalar float32 reference (backend/cpu/reference.h): the oracle the golden tests run.
#include <memory>

#include "backend/backend.h"
#include "backend/cpu/kernels/packed.h"

namespace ax::cpu {

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& options);

// The tile-packed copy the CPU backend made of a linear weight, or nullptr (not packable, packing
// off, or not a CPU weight): for tests and tools that look inside.
const kernels::PackedMatrix* packed_matrix(const Weight& w);

}  // namespace ax::cpu
