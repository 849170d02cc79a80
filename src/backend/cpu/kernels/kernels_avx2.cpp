// The kernel bodies (kernels_body.inc) compiled for AVX2 + FMA + F16C (Haswell and later, Zen 1 and later).
// Every header is included before the target pragma so that no inline library code is compiled
// for this ISA and later picked by the linker for callers on other CPUs.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "backend/cpu/kernels/isa_kernels.h"
#include "format/dequant.h"
#include "util/half.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#define AX_KERNELS_VNNI 0

namespace ax::cpu::kernels::avx2 {
#include "backend/cpu/kernels/kernels_body.inc"

const IsaKernels& table() {
  static const IsaKernels t = [] {
    IsaKernels k;
    fill_table(k);
    return k;
  }();
  return t;
}
}  // namespace ax::cpu::kernels::avx2

#undef AX_KERNELS_VNNI
#pragma GCC pop_options

namespace ax::cpu::kernels {
const IsaKernels& avx2_kernels() { return avx2::table(); }
}  // namespace ax::cpu::kernels
