#include "backend/cpu/cpu_features.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

namespace ax::cpu {
namespace {

uint64_t read_xcr0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  const unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 1) return f;
  __cpuid_count(1, 0, a, b, c, d);
  const bool osxsave = (c >> 27) & 1;
  const uint64_t xcr0 = osxsave ? read_xcr0() : 0;
  const bool ymm_ok = (xcr0 & 0x6) == 0x6;      // SSE + AVX state saved by the OS
  const bool zmm_ok = (xcr0 & 0xe6) == 0xe6;    // + opmask, zmm_hi256, hi16_zmm
  f.fma = ymm_ok && ((c >> 12) & 1);
  f.f16c = ymm_ok && ((c >> 29) & 1);
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    const unsigned b7 = b, c7 = c, d7 = d;
    f.avx2 = ymm_ok && ((b7 >> 5) & 1);
    f.avx512f = zmm_ok && ((b7 >> 16) & 1);
    f.avx512dq = zmm_ok && ((b7 >> 17) & 1);
    f.avx512bw = zmm_ok && ((b7 >> 30) & 1);
    f.avx512vl = zmm_ok && ((b7 >> 31) & 1);
    f.avx512vnni = zmm_ok && ((c7 >> 11) & 1);
    const bool tiles_ok = (xcr0 & 0x60000) == 0x60000;  // XTILECFG + XTILEDATA saved by the OS
    f.amx_int8 = tiles_ok && ((d7 >> 24) & 1) && ((d7 >> 25) & 1);
    __cpuid_count(7, 1, a, b, c, d);
    f.avx_vnni = ymm_ok && ((a >> 4) & 1);
    f.avx512bf16 = zmm_ok && ((a >> 5) & 1);
  }
  // Brand string: leaves 0x80000002..4, 16 bytes each.
  if (__get_cpuid_max(0x80000000, nullptr) >= 0x80000004) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      __cpuid(0x80000002 + i, a, b, c, d);
      std::memcpy(brand + 16 * i, &a, 4);
      std::memcpy(brand + 16 * i + 4, &b, 4);
      std::memcpy(brand + 16 * i + 8, &c, 4);
      std::memcpy(brand + 16 * i + 12, &d, 4);
    }
    std::string s(brand);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
    const auto first = s.find_first_not_of(' ');
    f.model_name = first == std::string::npos ? "" : s.substr(first);
  }
  return f;
}

}  // namespace

std::string CpuFeatures::summary() const {
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(avx2, "AVX2");
  add(fma, "FMA");
  add(f16c, "F16C");
  add(avx_vnni, "AVX-VNNI");
  add(avx512f, "AVX512F");
  add(avx512bw, "AVX512BW");
  add(avx512vl, "AVX512VL");
  add(avx512dq, "AVX512DQ");
  add(avx512vnni, "AVX512-VNNI");
  add(avx512bf16, "AVX512-BF16");
  add(amx_int8, "AMX-INT8");
  return s.empty() ? "none" : s;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

bool amx_usable() {
  static const bool ok = [] {
    if (!cpu_features().amx_int8) return false;
#if defined(__linux__) && defined(SYS_arch_prctl)
    constexpr int kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
    return false;
#endif
  }();
  return ok;
}

}  // namespace ax::cpu
