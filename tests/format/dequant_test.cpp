#include "format/dequant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "format/gguf.h"
#include "format/safetensors.h"
#include "test_support.h"
#include "util/error.h"
#include "util/half.h"

namespace ax {
namespace {

// Every tensor of quants.gguf dequantizes bit-exactly to gguf-py's values in
// reference.safetensors, and w @ x matches the float64 reference y.
TEST(Dequant, QuantFixturesBitExact) {
  auto g = GgufFile::open(test::fixture("quants/quants.gguf"));
  auto ref = SafetensorsFile::open(test::fixture("quants/reference.safetensors"));
  ASSERT_EQ(g->tensors().size(), 13u);
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
