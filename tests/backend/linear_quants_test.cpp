// The reference linear over every quantized weight type, against w @ x that gguf-py's independent
// dequantizers give (../shared/fixtures/quants, quants-mxfp4): row addressing and block handling per
// dtype; and the fast CPU path on MXFP4.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "backend/backend.h"
#include "backend/cpu/reference.h"
#include "format/gguf.h"
#include "format/safetensors.h"
#include "test_support.h"

namespace ax::cpu::ref {
namespace {

std::vector<float> read_f32(const SafetensorsFile& f, const std::string& name) {
  const TensorView* t = f.tensor(name);
  if (t == nullptr || t->dtype != DType::F32) ADD_FAILURE() << "no F32 tensor " << name;
  std::vector<float> v(t ? t->numel() : 0);
  if (t) std::memcpy(v.data(), t->data, v.size() * 4);
  return v;
}

// The reference linear on the tensors `types` of a quants fixture folder (quants.gguf and gguf-py's
// reference.safetensors).
void expect_reference_linear_matches(const std::string& dir, std::initializer_list<const char*> types) {
  auto gguf = GgufFile::open(test::fixture(dir + "/quants.gguf"));
  auto ref = SafetensorsFile::open(test::fixture(dir + "/reference.safetensors"));
  for (const char* type : types) {
    SCOPED_TRACE(type);
    const std::string name = std::string(type) + ".w";
    const TensorView* w = gguf->tensor(name);
    ASSERT_NE(w, nullptr);
    const auto wd = read_f32(*ref, name);
    const auto x = read_f32(*ref, std::string(type) + ".x");
    const auto want = read_f32(*ref, std::string(type) + ".y");
    const int64_t out = w->rows(), in = w->cols();
    ASSERT_EQ(static_cast<int64_t>(want.size()), out);
    // Two input rows (x and 2x) so the n > 1 path and output layout are exercised too.
    std::vector<float> xx(x);
    for (float v : x) xx.push_back(2 * v);
    std::vector<float> y(2 * out);
    linear(*w, xx.data(), 2, y.data());
    for (int64_t o = 0; o < out; ++o) {
      double mag = 0;
      for (int64_t k = 0; k < in; ++k) mag += std::abs(static_cast<double>(wd[o * in + k]) * x[k]);
      EXPECT_NEAR(y[o], want[o], 1e-6 * mag + 1e-6) << "row " << o;
      EXPECT_NEAR(y[out + o], 2 * want[o], 2e-6 * mag + 1e-6) << "row " << o << " of 2x";
    }
  }
}

TEST(LinearReference, EveryQuantTypeMatchesIndependentDequantization) {
  expect_reference_linear_matches("quants", {"f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k",
                                             "q4_k", "q5_k", "q6_k", "iq4_xs"});
  expect_reference_linear_matches("quants-mxfp4", {"mxfp4"});
}

// The CPU backend's default (fast) path on the MXFP4 fixture: x is quantized to 8-bit blocks of 32
// there, so y agrees with the float64 reference to that quantization's error (relative 1e-2 of the
// row's magnitude), and every row is bit for bit the same whether computed alone or among others.
TEST(LinearFast, Mxfp4FixtureMatchesIndependentDot) {
  auto gguf = GgufFile::open(test::fixture("quants-mxfp4/quants.gguf"));
  auto ref = SafetensorsFile::open(test::fixture("quants-mxfp4/reference.safetensors"));
  const TensorView* w = gguf->tensor("mxfp4.w");
  ASSERT_NE(w, nullptr);
  const auto wd = read_f32(*ref, "mxfp4.w");
  const auto x = read_f32(*ref, "mxfp4.x");
  const auto want = read_f32(*ref, "mxfp4.y");
  auto be = make_backend({.kind = "cpu", .threads = 2});
  auto handles = be->load_linears({w});
  const int64_t out = w->rows(), in = w->cols();
  std::vector<float> xx(x);
  for (float v : x) xx.push_back(-0.5f * v);
  std::vector<float> y(2 * out), y1(out);
  be->linear(*handles[0], Tensor{xx.data(), 2, in}, Tensor{y.data(), 2, out});
  be->linear(*handles[0], Tensor{xx.data(), 1, in}, Tensor{y1.data(), 1, out});
  EXPECT_EQ(std::memcmp(y.data(), y1.data(), out * sizeof(float)), 0);
  for (int64_t o = 0; o < out; ++o) {
    double mag = 0;
    for (int64_t k = 0; k < in; ++k) mag += std::abs(static_cast<double>(wd[o * in + k]) * x[k]);
    EXPECT_NEAR(y[o], want[o], 1e-2 * mag + 1e-6) << "row " << o;
    EXPECT_NEAR(y[out + o], -0.5 * want[o], 0.5e-2 * mag + 1e-6) << "row " << o << " of -x/2";
  }
}

}  // namespace
}  // namespace ax::cpu::ref
