#pragma once
// What the x86-64 CPU we run on can execute, read once from cpuid/xgetbv. The kernels pick their
// instruction set from this at run time, so one binary runs on any x86-64 machine.
#include <string>

namespace ax::cpu {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx_vnni = false;     // 256-bit VNNI without AVX-512 (Alder Lake+, Zen 5)
  bool avx512f = false;      // each AVX-512 flag also requires the OS to save zmm state
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool amx_int8 = false;     // AMX-TILE + AMX-INT8, tile state enabled by the OS (XCR0)
  std::string model_name;    // "AMD EPYC ..." from the brand string

  // The tiers the kernel dispatcher uses.
  bool has_avx2_tier() const { return avx2 && fma && f16c; }
  bool has_avx512_tier() const {
    return has_avx2_tier() && avx512f && avx512bw && avx512vl && avx512dq && avx512vnni;
  }
  std::string summary() const;  // "AVX2 FMA F16C AVX512F ... " for logs and docs
};

const CpuFeatures& cpu_features();  // detected on first call, cached

// True when this process may run AMX int8 tile instructions: amx_int8, and Linux granted the tile
// data state (arch_prctl ARCH_REQ_XCOMP_PERM, asked once per process; without it the first tile
// instruction faults).
bool amx_usable();

}  // namespace ax::cpu
