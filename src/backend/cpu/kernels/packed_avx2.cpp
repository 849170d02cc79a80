// The packed tile kernels (packed_avx2_body.inc) at AVX2 width, compiled twice:
//  - AVX2 + FMA + F16C, u8 x s8 dot products with vpmaddubsw + vpmaddwd (Haswell and later, Zen 1
//    to Zen 3: the CPUs without AVX-VNNI);
//  - the same plus AVX-VNNI, dot products with the 256-bit VEX vpdpbusd (Alder Lake and later,
//    Zen 5), for CPUs without AVX-512.
// Every header is included before the target pragmas, so no inline library code is compiled for
// these ISAs and later picked by the linker for callers on other CPUs.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "backend/cpu/kernels/packed_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#define AX_PACKED_VNNI 0
namespace ax::cpu::kernels::packed_avx2 {
#include "backend/cpu/kernels/packed_avx2_body.inc"
}  // namespace ax::cpu::kernels::packed_avx2
#undef AX_PACKED_VNNI
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avxvnni")
#define AX_PACKED_VNNI 1
namespace ax::cpu::kernels::packed_avx2_vnni {
#include "backend/cpu/kernels/packed_avx2_body.inc"
}  // namespace ax::cpu::kernels::packed_avx2_vnni
#undef AX_PACKED_VNNI
#pragma GCC pop_options

namespace ax::cpu::kernels {
const PackedKernels* packed_avx2_table() { return packed_avx2::table(); }
const PackedKernels* packed_avx2_vnni_table() { return packed_avx2_vnni::table(); }
}  // namespace ax::cpu::kernels
