#include "format/dequant.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "format/gguf.h"
#include "format/quantize.h"
#include "format/safetensors.h"
#include "test_support.h"
#include "util/error.h"
#include "util/half.h"

namespace ax {
namespace {

// Every tensor of a quants fixture's quants.gguf dequantizes bit-exactly to gguf-py's values in its
// reference.safetensors, and w @ x matches the float64 reference y.
void expect_fixture_bit_exact(const std::string& dir, size_t tensors) {
  auto g = GgufFile::open(test::fixture(dir + "/quants.gguf"));
  auto ref = SafetensorsFile::open(test::fixture(dir + "/reference.safetensors"));
  ASSERT_EQ(g->tensors().size(), tensors);
  for (const TensorView& t : g->tensors()) {
    SCOPED_TRACE(t.name);
    const std::string type = t.name.substr(0, t.name.size() - 2);  // "q4_k.w" -> "q4_k"
    const TensorView* w = ref->tensor(type + ".w");
    const TensorView* x = ref->tensor(type + ".x");
    const TensorView* y = ref->tensor(type + ".y");
    ASSERT_TRUE(w && x && y);
    ASSERT_EQ(w->shape, t.shape);
    const std::vector<float> got = dequantize(t);
    ASSERT_EQ(got.size() * 4, w->nbytes);
    const float* want = reinterpret_cast<const float*>(w->data);
    size_t mismatches = 0, first = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      if (std::memcmp(&got[i], &want[i], 4) != 0 && mismatches++ == 0) first = i;
    }
    EXPECT_EQ(mismatches, 0u) << "first at " << first << ": " << got[first] << " vs " << want[first];

    const float* xv = reinterpret_cast<const float*>(x->data);
    const float* yv = reinterpret_cast<const float*>(y->data);
    const int64_t rows = t.shape[0], cols = t.shape[1];
    for (int64_t r = 0; r < rows; ++r) {
      double dot = 0, mag = 0;
      for (int64_t c = 0; c < cols; ++c) {
        dot += static_cast<double>(got[r * cols + c]) * xv[c];
        mag += std::abs(static_cast<double>(got[r * cols + c]) * xv[c]);
      }
      EXPECT_NEAR(dot, yv[r], 1e-6 * mag + 1e-6) << "row " << r;
    }
  }
}

TEST(Dequant, QuantFixturesBitExact) { expect_fixture_bit_exact("quants", 13); }

// MXFP4 (gpt-oss's expert format) has its own fixture, made the same way.
TEST(Dequant, Mxfp4FixtureBitExact) { expect_fixture_bit_exact("quants-mxfp4", 1); }

// gguf-py's MXFP4 blocks always use their top octave (the largest value takes code 8 or 12), so
// quantizing the dequantized fixture gives back its bytes exactly, all-zero and tiny blocks included.
TEST(Quantize, Mxfp4ReproducesGgufPyBlocks) {
  auto g = GgufFile::open(test::fixture("quants-mxfp4/quants.gguf"));
  const TensorView* t = g->tensor("mxfp4.w");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->dtype, DType::MXFP4);
  const std::vector<float> values = dequantize(*t);
  const std::vector<uint8_t> bytes = quantize(DType::MXFP4, values.data(), t->rows(), t->cols());
  ASSERT_EQ(bytes.size(), t->nbytes);
  EXPECT_EQ(std::memcmp(bytes.data(), t->data, t->nbytes), 0);
  EXPECT_EQ(t->data[0], 0);  // row 0 begins with an all-zero block (exponent 0)
}

// Every exponent byte decodes to 2^(e - 128), subnormal 2^-128 and 2^127 included, and random
// values round to the nearest representable MXFP4 value.
TEST(Quantize, Mxfp4ScalesAndRounding) {
  for (int e = 0; e < 256; ++e) EXPECT_EQ(mxfp4_scale(static_cast<uint8_t>(e)), std::ldexp(1.0f, e - 128)) << e;
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  std::vector<float> x(32 * 64);
  for (auto& v : x) v = nd(rng);
  const auto q = quantize(DType::MXFP4, x.data(), 1, static_cast<int64_t>(x.size()));
  std::vector<float> back(x.size());
  dequantize_row(DType::MXFP4, q.data(), back.data(), static_cast<int64_t>(x.size()));
  for (size_t b = 0; b < x.size() / 32; ++b) {
    const float d = mxfp4_scale(q[17 * b]);
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
    EXPECT_GT(12 * d, 0.75f * amax);
    EXPECT_LE(12 * d, 1.5f * amax);
    for (int j = 0; j < 32; ++j) {
      const float v = x[32 * b + j];
      float best = INFINITY;
      for (int8_t k : kMxfp4Values) best = std::min(best, std::fabs(d * k - v));
      EXPECT_EQ(std::fabs(back[32 * b + j] - v), best) << "block " << b << " value " << j;
    }
  }
}

TEST(Dequant, PlainTypesAndErrors) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> v(64);
  for (auto& f : v) f = nd(rng);
  std::vector<uint16_t> h(64), b(64);
  for (size_t i = 0; i < v.size(); ++i) {
    h[i] = f32_to_fp16(v[i]);
    b[i] = f32_to_bf16(v[i]);
  }
  std::vector<float> out(64);
  dequantize_row(DType::F32, reinterpret_cast<const uint8_t*>(v.data()), out.data(), 64);
  EXPECT_EQ(out, v);
  dequantize_row(DType::F16, reinterpret_cast<const uint8_t*>(h.data()), out.data(), 64);
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(out[i], fp16_to_f32(h[i]));
  dequantize_row(DType::BF16, reinterpret_cast<const uint8_t*>(b.data()), out.data(), 64);
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(out[i], bf16_to_f32(b[i]));

  std::vector<uint8_t> block(34);
  EXPECT_THROW(dequantize_row(DType::Q8_0, block.data(), out.data(), 33), Error);
  EXPECT_THROW(dequantize_row(DType::Q8_K, block.data(), out.data(), 256), Error);
}

}  // namespace
}  // namespace ax
