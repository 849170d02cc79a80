#include "util/half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

namespace ax {
namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Every half value converts to float exactly (checked against the compiler's _Float16) and
// back to the same bits.
TEST(Half, AllFp16ValuesRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_f32(static_cast<uint16_t>(h));
    _Float16 ref;
    const uint16_t h16 = static_cast<uint16_t>(h);
    std::memcpy(&ref, &h16, 2);
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(static_cast<float>(ref))) << h;
      ASSERT_EQ(f32_to_fp16(f) & 0x7c00u, 0x7c00u) << h;
      continue;
    }
    ASSERT_EQ(bits(f), bits(static_cast<float>(ref))) << h;
    ASSERT_EQ(f32_to_fp16(f), h) << h;
  }
}

// float -> half rounds to nearest even, as the compiler's conversion does, over random floats
// of every magnitude (subnormal halves, overflow to infinity and ties included).
TEST(Half, Fp16RoundingMatchesCompiler) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<float> xs;
  for (int i = 0; i < 200000; ++i) {
    // Exponents around the half range, random mantissas; every 8th one is an exact tie.
    const uint32_t exp = std::uniform_int_distribution<uint32_t>(127 - 30, 127 + 17)(rng);
    uint32_t mant = rng() & 0x7fffffu;
    if (i % 8 == 0) mant = (mant & ~0x1fffu) | 0x1000u;
    xs.push_back(from_bits(((rng() & 1u) << 31) | (exp << 23) | mant));
  }
  for (float x : {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, 1e-8f, 5.96e-8f, 2.98e-8f, INFINITY, -INFINITY}) xs.push_back(x);
  for (float x : xs) {
    const _Float16 ref = static_cast<_Float16>(x);
    uint16_t want;
    std::memcpy(&want, &ref, 2);
    ASSERT_EQ(f32_to_fp16(x), want) << x << " bits " << std::hex << bits(x);
  }
}

TEST(Half, Bf16) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = bf16_to_f32(static_cast<uint16_t>(h));
    ASSERT_EQ(bits(f), h << 16);
    if (!std::isnan(f)) {
      ASSERT_EQ(f32_to_bf16(f), h);
    }
  }
  // Round to nearest even on the dropped 16 bits.
  EXPECT_EQ(f32_to_bf16(from_bits(0x3f808000u)), 0x3f80u);  // tie, even stays
  EXPECT_EQ(f32_to_bf16(from_bits(0x3f818000u)), 0x3f82u);  // tie, odd rounds up
  EXPECT_EQ(f32_to_bf16(from_bits(0x3f808001u)), 0x3f81u);  // above the tie
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

}  // namespace
}  // namespace ax
