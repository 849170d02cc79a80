#pragma once
// Which kernel tiers a test run must cover. By default a kernel test leaves out (or skips for) a
// tier this CPU lacks. With AX_REQUIRE_ISA in the environment, a comma-separated list of tiers
// (avx2, avx2-vnni, avx512, amx) or "all", each listed tier this CPU lacks is a test failure
// instead: the strict mode for a machine that has to test the kernels it ships
// (docs/CORRECTNESS.md, "Kernel tiers").
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <iterator>
#include <string>
#include <vector>

#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels/kernels.h"

namespace ax::cpu::kernels {

// The tier names of a AX_REQUIRE_ISA value ("all": every tier); an unknown name is a failure of
// the calling test (a typo must not turn the strict mode off).
inline std::vector<std::string> parse_required_tiers(const std::string& value) {
  static const char* const kAll[] = {"avx2", "avx2-vnni", "avx512", "amx"};
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < value.size()) {
    const size_t comma = std::min(value.find(',', pos), value.size());
    const std::string name = value.substr(pos, comma - pos);
    pos = comma + 1;
    if (name.empty()) continue;
    if (name == "all") {
      out.assign(std::begin(kAll), std::end(kAll));
      continue;
    }
    bool known = false;
    for (const char* t : kAll) known = known || name == t;
    if (known) {
      out.push_back(name);
    } else {
      ADD_FAILURE() << "AX_REQUIRE_ISA names '" << name << "': expected avx2, avx2-vnni, avx512, amx or all";
    }
  }
  return out;
}

inline bool tier_required(const std::string& name) {
  const char* env = std::getenv("AX_REQUIRE_ISA");
  if (env == nullptr) return false;
  for (const auto& t : parse_required_tiers(env))
    if (t == name) return true;
  return false;
}

// The tiers of `wanted` this CPU runs (`supported`: isa_supported, or a stand-in in the tests of
// this header). Each one it lacks is left out with a note on stdout, or, where AX_REQUIRE_ISA names
// it, adds a failure.
inline std::vector<Isa> tiers_to_test(std::initializer_list<Isa> wanted, bool (*supported)(Isa) = isa_supported) {
  std::vector<Isa> v;
  for (Isa isa : wanted) {
    if (supported(isa)) {
      v.push_back(isa);
    } else if (tier_required(isa_name(isa))) {
      ADD_FAILURE() << "AX_REQUIRE_ISA requires the " << isa_name(isa) << " kernels, which this CPU cannot run ("
                    << cpu_features().summary() << ")";
    } else {
      std::printf("[   NOTE   ] the %s kernels are not tested: this CPU cannot run them\n", isa_name(isa));
    }
  }
  return v;
}

}  // namespace ax::cpu::kernels

// In a test body: unless `have`, skip, or fail where AX_REQUIRE_ISA names `tier`.
#define AX_SKIP_UNLESS_TIER(have, tier)                                                                              \
  do {                                                                                                               \
    if (!(have)) {                                                                                                   \
      if (::ax::cpu::kernels::tier_required(tier))                                                                   \
        FAIL() << "AX_REQUIRE_ISA requires " << (tier) << ", which this CPU cannot run ("                           \
               << ::ax::cpu::cpu_features().summary() << ")";                                                        \
      GTEST_SKIP() << "no " << (tier) << " on this CPU";                                                             \
    }                                                                                                                \
  } while (0)
