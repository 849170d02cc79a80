// RoPE frequency schedules: the defining properties of each scaling type. (The llama3 schedule is
// also checked end to end by the llama3_rope golden fixture.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "model/rope.h"
#include "util/error.h"

namespace ax {
namespace {

TEST(RopeFreqs, DefaultScheduleAndPartialRotary) {
  RopeConfig rc;
  rc.theta = 10000.0f;
  auto f = make_rope_freqs(rc, 64);
  ASSERT_EQ(f.inv_freq.size(), 32u);
  EXPECT_EQ(f.rotary_dim, 64);
  EXPECT_FLOAT_EQ(f.inv_freq[0], 1.0f);
  for (int i = 0; i < 32; ++i) EXPECT_NEAR(f.inv_freq[i], std::pow(10000.0, -2.0 * i / 64), 1e-6 * std::pow(10000.0, -2.0 * i / 64));
  EXPECT_FALSE(f.adjacent_pairs);
  rc.rotary_dim = 16;  // partial: frequencies over the rotated width
  rc.style = RopeStyle::AdjacentPairs;
  auto p = make_rope_freqs(rc, 64);
  ASSERT_EQ(p.inv_freq.size(), 8u);
  EXPECT_TRUE(p.adjacent_pairs);
  EXPECT_NEAR(p.inv_freq[1], std::pow(10000.0, -2.0 / 16), 1e-6);
  rc.rotary_dim = 70;
  EXPECT_THROW(make_rope_freqs(rc, 64), Error);
}

// Gemma 4's full layers: pairs over the whole head; the first partial * head_dim / 2 turn at the
// whole head's default frequencies, the others not at all.
TEST(RopeFreqs, ProportionalTurnsTheFirstPairsOfTheWholeHead) {
  RopeConfig rc;
  rc.theta = 1e6f;
  rc.scaling_type = "proportional";
  rc.partial_rotary_factor = 0.25f;
  auto f = make_rope_freqs(rc, 32);
  auto whole = make_rope_freqs(RopeConfig{.theta = 1e6f}, 32);
  EXPECT_EQ(f.rotary_dim, 32);
  ASSERT_EQ(f.inv_freq.size(), 16u);
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(f.inv_freq[i], i < 4 ? whole.inv_freq[i] : 0.0f) << i;
  rc.factor = 2.0f;
  EXPECT_FLOAT_EQ(make_rope_freqs(rc, 32).inv_freq[1], whole.inv_freq[1] / 2.0f);
  rc.rotary_dim = 8;  // proportional RoPE never cuts the head
  EXPECT_THROW(make_rope_freqs(rc, 32), Error);
}

TEST(RopeFreqs, LinearDividesEveryFrequency) {
  RopeConfig rc;
  rc.scaling_type = "linear";
  rc.factor = 4.0f;
  auto f = make_rope_freqs(rc, 32);
  auto base = make_rope_freqs(RopeConfig{}, 32);
  for (size_t i = 0; i < f.inv_freq.size(); ++i) EXPECT_NEAR(f.inv_freq[i], base.inv_freq[i] / 4.0f, 1e-7);
}

TEST(RopeFreqs, Llama3KeepsHighDividesLowInterpolatesBetween) {
  RopeConfig rc;
  rc.theta = 500000.0f;
  rc.scaling_type = "llama3";
  rc.factor = 32.0f;
  rc.low_freq_factor = 1.0f;
  rc.high_freq_factor = 4.0f;
  rc.original_max_position = 8192;
  RopeConfig plain;
  plain.theta = rc.theta;
  auto f = make_rope_freqs(rc, 128);
  auto base = make_rope_freqs(plain, 128);
  int high = 0, low = 0, mid = 0;
  for (size_t i = 0; i < f.inv_freq.size(); ++i) {
    const double wavelen = 2 * std::numbers::pi / base.inv_freq[i];
    const double ratio = f.inv_freq[i] / base.inv_freq[i];
    if (wavelen < 8192 / 4.0) {
      EXPECT_NEAR(ratio, 1.0, 1e-6) << i;
      ++high;
    } else if (wavelen > 8192 / 1.0) {
      EXPECT_NEAR(ratio, 1.0 / 32, 1e-6) << i;
      ++low;
    } else {
      EXPECT_GT(ratio, 1.0 / 32) << i;
      EXPECT_LT(ratio, 1.0) << i;
      ++mid;
    }
  }
  EXPECT_GT(high, 0);
  EXPECT_GT(low, 0);
  EXPECT_GT(mid, 0);
  rc.original_max_position = 0;
  EXPECT_THROW(make_rope_freqs(rc, 128), Error);
}

// gpt-oss's YaRN settings: theta 150000, factor 32 over 4096 positions, beta 32 / 1.
RopeConfig gpt_oss_yarn() {
  RopeConfig rc;
  rc.theta = 150000.0f;
  rc.scaling_type = "yarn";
  rc.factor = 32.0f;
  rc.original_max_position = 4096;
  rc.beta_fast = 32.0f;
  rc.beta_slow = 1.0f;
  return rc;
}

TEST(RopeFreqs, YarnRampAndAttentionFactor) {
  RopeConfig rc = gpt_oss_yarn();
  RopeConfig plain;
  plain.theta = rc.theta;
  auto f = make_rope_freqs(rc, 64);
  auto base = make_rope_freqs(plain, 64);
  EXPECT_NEAR(f.attention_factor, 0.1 * std::log(32.0) + 1.0, 1e-6);
  // Fastest dims extrapolate (unchanged), slowest interpolate (divided by factor), and the ratio
  // never increases with the dimension index.
  EXPECT_NEAR(f.inv_freq.front() / base.inv_freq.front(), 1.0, 1e-6);
  EXPECT_NEAR(f.inv_freq.back() / base.inv_freq.back(), 1.0 / 32, 1e-6);
  double prev = 2.0;
  for (size_t i = 0; i < f.inv_freq.size(); ++i) {
    const double ratio = f.inv_freq[i] / base.inv_freq[i];
    EXPECT_LE(ratio, prev + 1e-7);
    prev = ratio;
  }
  rc.attention_factor = 1.5f;  // given explicitly: used as is
  EXPECT_FLOAT_EQ(make_rope_freqs(rc, 64).attention_factor, 1.5f);
}

// gpt-oss's YaRN ("truncate": false): the correction range is not rounded, as OpenAI's reference
// implementation computes it (written out here in double precision); rounding it (HF's default,
// llama.cpp's only form) moves the frequencies of the dimensions on the ramp.
TEST(RopeFreqs, YarnWithoutTruncationKeepsTheExactRamp) {
  RopeConfig rc = gpt_oss_yarn();
  rc.yarn_truncate = false;
  const int64_t dim = 64, half = dim / 2;
  const auto f = make_rope_freqs(rc, dim);
  const double pi = 3.14159265358979323846;
  const double low = half * std::log(4096 / (32 * 2 * pi)) / std::log(150000.0);
  const double high = half * std::log(4096 / (1 * 2 * pi)) / std::log(150000.0);
  ASSERT_NE(low, std::floor(low));  // 8.09 and 17.39: rounding would move both ends
  for (int64_t i = 0; i < half; ++i) {
    const double freq = std::pow(150000.0, static_cast<double>(2 * i) / dim);
    const double mask = 1 - std::clamp((i - low) / (high - low), 0.0, 1.0);
    const double want = 1 / (32 * freq) * (1 - mask) + 1 / freq * mask;
    EXPECT_NEAR(f.inv_freq[i], want, 2e-6 * want) << "dim pair " << i;
  }
  rc.yarn_truncate = true;
  const auto rounded = make_rope_freqs(rc, dim);
  int moved = 0;
  for (int64_t i = 0; i < half; ++i) moved += std::fabs(rounded.inv_freq[i] / f.inv_freq[i] - 1) > 1e-3;
  EXPECT_GE(moved, 8);
}

TEST(RopeFreqs, RejectsUnknownScaling) {
  RopeConfig rc;
  rc.scaling_type = "dynamic-ntk-by-guesswork";
  rc.factor = 2.0f;
  EXPECT_THROW(make_rope_freqs(rc, 32), Error);
}

}  // namespace
}  // namespace ax
