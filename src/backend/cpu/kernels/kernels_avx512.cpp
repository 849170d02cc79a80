// The kernel bodies (kernels_body.inc) compiled for AVX-512 F/BW/VL/DQ + VNNI (Ice Lake, Sapphire Rapids, Zen 4/5).
// Every header is included before the target pragma so that no inline library code is compiled
// for this ISA and later picked by the linker for callers on other CPUs.
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "backend/cpu/kernels/isa_kernels.h"
#include "util/half.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#define AX_KERNELS_VNNI 1

namespace ax::cpu::kernels::avx512 {
#include "backend/cpu/kernels/kernels_body.inc"
}  // namespace ax::cpu::kernels::avx512

#undef AX_KERNELS_VNNI
#pragma GCC pop_options

namespace ax::cpu::kernels {
const IsaKernels& avx512_kernels() { return avx512::table(); }
}  // namespace ax::cpu::kernels
