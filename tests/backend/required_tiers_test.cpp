// The strict mode of the kernel tests (backend/required_tiers.h): AX_REQUIRE_ISA names the tiers a
// run must cover, and a named tier the CPU lacks fails the test instead of being left out; without
// it such a tier is left out. A stand-in for isa_supported plays a CPU without the tiers, so this
// holds on any host.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "backend/required_tiers.h"

namespace ax::cpu::kernels {
namespace {

// Sets AX_REQUIRE_ISA for one scope and puts back what the run had (scripts/test-kernel-tiers.sh
// runs this binary with it set).
class RequireIsa {
 public:
  explicit RequireIsa(const char* value) {
    if (const char* v = std::getenv("AX_REQUIRE_ISA")) saved_ = v;
    if (value != nullptr) {
      setenv("AX_REQUIRE_ISA", value, 1);
    } else {
      unsetenv("AX_REQUIRE_ISA");
    }
  }
  ~RequireIsa() {
    if (saved_) {
      setenv("AX_REQUIRE_ISA", saved_->c_str(), 1);
    } else {
      unsetenv("AX_REQUIRE_ISA");
    }
  }

 private:
  std::optional<std::string> saved_;
};

bool only_avx2(Isa isa) { return isa == Isa::Scalar || isa == Isa::Avx2; }

TEST(RequiredTiers, ListsAndAllParse) {
  EXPECT_EQ(parse_required_tiers("avx2,avx512"), (std::vector<std::string>{"avx2", "avx512"}));
  EXPECT_EQ(parse_required_tiers("avx2-vnni,,amx"), (std::vector<std::string>{"avx2-vnni", "amx"}));
  EXPECT_EQ(parse_required_tiers("all"), (std::vector<std::string>{"avx2", "avx2-vnni", "avx512", "amx"}));
  EXPECT_TRUE(parse_required_tiers("").empty());
}

// A typo must not turn the strict mode off quietly.
TEST(RequiredTiers, AnUnknownNameFails) {
  EXPECT_NONFATAL_FAILURE(parse_required_tiers("avx2,avx3"), "AX_REQUIRE_ISA names 'avx3'");
}

TEST(RequiredTiers, ATierTheCpuLacksIsLeftOutUnlessRequired) {
  {
    RequireIsa env(nullptr);
    EXPECT_EQ(tiers_to_test({Isa::Avx2, Isa::Avx2Vnni, Isa::Avx512}, only_avx2), std::vector<Isa>{Isa::Avx2});
  }
  {
    RequireIsa env("avx2");  // required and present: no failure
    EXPECT_EQ(tiers_to_test({Isa::Avx2, Isa::Avx512}, only_avx2), std::vector<Isa>{Isa::Avx2});
  }
  {
    RequireIsa env("avx2,avx512");
    std::vector<Isa> got;
    EXPECT_NONFATAL_FAILURE(got = tiers_to_test({Isa::Avx2, Isa::Avx512}, only_avx2),
                            "AX_REQUIRE_ISA requires the avx512 kernels, which this CPU cannot run");
    EXPECT_EQ(got, std::vector<Isa>{Isa::Avx2});
  }
  {
    RequireIsa env("all");
    EXPECT_NONFATAL_FAILURE(tiers_to_test({Isa::Avx2Vnni}, only_avx2), "requires the avx2-vnni kernels");
  }
}

// The skip of a whole test: a skip without AX_REQUIRE_ISA, a failure with it.
void body_needing_amx(bool have) { AX_SKIP_UNLESS_TIER(have, "amx"); }

TEST(RequiredTiers, ASkippedTestFailsWhenItsTierIsRequired) {
  {
    RequireIsa env("amx");
    EXPECT_FATAL_FAILURE(body_needing_amx(false), "AX_REQUIRE_ISA requires amx, which this CPU cannot run");
  }
  RequireIsa env("avx512");
  EXPECT_TRUE(tier_required("avx512"));
  EXPECT_FALSE(tier_required("amx"));
}

}  // namespace
}  // namespace ax::cpu::kernels
