#include "format/gguf_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "format/dequant.h"
#include "format/quantize.h"
#include "format/safetensors.h"
#include "test_support.h"
#include "util/error.h"

namespace ax {
namespace {

GgufValue val(GgufType t, std::variant<uint64_t, int64_t, double, bool, std::string, GgufArray> v) {
  GgufValue g;
  g.type = t;
  g.value = std::move(v);
  return g;
}

// A random value of type t (arrays: random element type, sometimes nested, sometimes empty).
GgufValue random_value(std::mt19937& rng, GgufType t, int depth) {
  auto u = [&](uint64_t max) { return std::uniform_int_distribution<uint64_t>(0, max)(rng); };
  auto i = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  switch (t) {
    case GgufType::U8: return val(t, u(UINT8_MAX));
    case GgufType::U16: return val(t, u(UINT16_MAX));
    case GgufType::U32: return val(t, u(UINT32_MAX));
    case GgufType::U64: return val(t, u(UINT64_MAX));
    case GgufType::I8: return val(t, i(INT8_MIN, INT8_MAX));
    case GgufType::I16: return val(t, i(INT16_MIN, INT16_MAX));
    case GgufType::I32: return val(t, i(INT32_MIN, INT32_MAX));
    case GgufType::I64: return val(t, i(INT64_MIN, INT64_MAX));
    case GgufType::F32: return val(t, double{std::normal_distribution<float>(0, 1e3f)(rng)});
    case GgufType::F64: return val(t, std::normal_distribution<double>(0, 1e9)(rng));
    case GgufType::BOOL: return val(t, u(1) == 1);
    case GgufType::STRING: {
      std::string s(u(20), '\0');
      for (auto& c : s) c = static_cast<char>(u(255));  // any bytes, NUL and invalid UTF-8 included
      return val(t, s);
    }
    case GgufType::ARRAY: {
      GgufArray a;
      a.elem_type = static_cast<GgufType>(u(depth < 2 ? 12 : 11));
      if (a.elem_type == GgufType::ARRAY && depth >= 2) a.elem_type = GgufType::U8;
      const uint64_t n = u(6);
      for (uint64_t k = 0; k < n; ++k) a.items.push_back(random_value(rng, a.elem_type, depth + 1));
      return val(t, std::move(a));
    }
  }
  return {};
}

std::vector<float> random_floats(std::mt19937& rng, size_t n, float scale = 1.0f) {
  std::normal_distribution<float> nd(0, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

TEST(GgufWriter, RoundTripMetadataAndTensors) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (size_t alignment : {size_t{32}, size_t{64}, size_t{8}}) {
    SCOPED_TRACE("alignment " + std::to_string(alignment));
    GgufWriter w(alignment);
    std::map<std::string, GgufValue> want;
    for (int k = 0; k < 60; ++k) {
      const std::string key = "test.key" + std::to_string(k);
      want[key] = random_value(rng, static_cast<GgufType>(k % 13), 0);
      w.set(key, want[key]);
    }
    w.set_string("general.architecture", "llama");
    w.set_u32("test.key0", 7);  // replacing keeps one entry
    want["general.architecture"] = val(GgufType::STRING, std::string("llama"));
    want["test.key0"] = val(GgufType::U32, uint64_t{7});
    if (alignment != 32) want["general.alignment"] = val(GgufType::U32, uint64_t{alignment});

    struct Want {
      DType type;
      std::vector<int64_t> shape;
      std::vector<uint8_t> bytes;
    };
    std::map<std::string, Want> tensors;
    int n = 0;
    for (DType type : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0}) {
      for (const std::vector<int64_t>& shape : std::vector<std::vector<int64_t>>{{64}, {3, 96}, {2, 3, 32}, {1, 1, 2, 64}}) {
        int64_t numel = 1;
        for (auto d : shape) numel *= d;
        const auto values = random_floats(rng, static_cast<size_t>(numel));
        const std::string name = "t" + std::to_string(n++);
        w.add_tensor(name, type, shape, values);
        tensors[name] = {type, shape, quantize(type, values.data(), numel / shape.back(), shape.back())};
      }
    }
    auto bytes = w.to_bytes();
    auto f = GgufFile::open_memory(bytes.data(), bytes.size(), "mem.gguf");
    EXPECT_EQ(f->version(), 3u);
    EXPECT_EQ(f->alignment(), alignment);
    EXPECT_EQ(f->metadata().size(), want.size());
    for (const auto& [key, v] : want) {
      const GgufValue* got = f->find(key);
      ASSERT_NE(got, nullptr) << key;
      EXPECT_TRUE(*got == v) << key;
    }
    ASSERT_EQ(f->tensors().size(), tensors.size());
    for (const auto& [name, t] : tensors) {
      const TensorView* v = f->tensor(name);
      ASSERT_NE(v, nullptr);
      EXPECT_EQ(v->dtype, t.type);
      EXPECT_EQ(v->shape, t.shape);
      ASSERT_EQ(v->nbytes, t.bytes.size());
      EXPECT_EQ(std::memcmp(v->data, t.bytes.data(), v->nbytes), 0) << name;
      EXPECT_EQ(static_cast<size_t>(v->data - bytes.data()) % alignment, 0u) << name;
    }
  }
}

// Fill-on-write, views of another file's tensors, and file output give the same bytes.
TEST(GgufWriter, FillViewAndFile) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const int64_t rows = 70, cols = 128;
  const auto values = random_floats(rng, rows * cols);
  auto quants = GgufFile::open(test::fixture("quants/quants.gguf"));
  const TensorView* q4k = quants->tensor("q4_k.w");

  GgufWriter a, b;
  a.add_tensor("w", DType::Q8_0, {rows, cols}, values);
  b.add_tensor_fill("w", DType::Q8_0, {rows, cols}, [&](int64_t r0, int64_t n, float* v) {
    std::memcpy(v, values.data() + r0 * cols, static_cast<size_t>(n * cols) * 4);
  });
  a.add_tensor_view(*q4k, "copied");
  b.add_tensor_view(*q4k, "copied");
  EXPECT_EQ(a.to_bytes(), b.to_bytes());

  const auto path = std::filesystem::temp_directory_path() / ("ax_gguf_writer_" + std::to_string(seed) + ".gguf");
  a.write(path.string());
  auto f = GgufFile::open(path.string());
  const TensorView* copied = f->tensor("copied");
  ASSERT_NE(copied, nullptr);
  EXPECT_EQ(copied->shape, q4k->shape);
  EXPECT_EQ(dequantize(*copied), dequantize(*q4k));
  std::filesystem::remove(path);
}

// A real vocabulary's tokenizer metadata copies over unchanged (how test models get a tokenizer).
TEST(GgufWriter, CopyTokenizerMetadata) {
  auto vocab = GgufFile::open(test::shared_model("llamacpp-vocab/ggml-vocab-qwen2.gguf"));
  GgufWriter w;
  w.set_string("general.architecture", "qwen3");
  w.copy_metadata(*vocab, "tokenizer.");
  auto bytes = w.to_bytes();
  auto f = GgufFile::open_memory(bytes.data(), bytes.size(), "mem.gguf");
  size_t copied = 0;
  for (const auto& [key, v] : vocab->metadata()) {
    if (key.rfind("tokenizer.", 0) != 0) continue;
    ++copied;
    ASSERT_NE(f->find(key), nullptr) << key;
    EXPECT_TRUE(*f->find(key) == v) << key;
  }
  EXPECT_EQ(f->metadata().size(), copied + 1);
  EXPECT_GT(copied, 5u);
}

// GGML's reference quantizers map the dequantized values of a quantized row back to the same
// bytes; ours must too.
TEST(Quantize, RequantizesFixtureRowsExactly) {
  auto g = GgufFile::open(test::fixture("quants/quants.gguf"));
  for (const char* name : {"q8_0.w", "q4_0.w"}) {
    SCOPED_TRACE(name);
    const TensorView* t = g->tensor(name);
    const auto values = dequantize(*t);
    const auto bytes = quantize(t->dtype, values.data(), t->rows(), t->cols());
    ASSERT_EQ(bytes.size(), t->nbytes);
    EXPECT_EQ(std::memcmp(bytes.data(), t->data, t->nbytes), 0);
  }
}

TEST(Quantize, ErrorWithinHalfStep) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const int64_t n = 32 * 64;
  auto x = random_floats(rng, n, 3.0f);
  for (DType t : {DType::Q8_0, DType::Q4_0}) {
    SCOPED_TRACE(std::string(dtype_name(t)));
    std::vector<uint8_t> q(row_bytes(t, n));
    quantize_row(t, x.data(), q.data(), n);
    std::vector<float> y(n);
    dequantize_row(t, q.data(), y.data(), n);
    for (int64_t b = 0; b < n / 32; ++b) {
      float amax = 0;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
      const float step = t == DType::Q8_0 ? amax / 127 : amax / 8;
      for (int j = 0; j < 32; ++j) {
        const float err = std::fabs(x[b * 32 + j] - y[b * 32 + j]);
        // Half a step, plus |q| times the fp16 rounding of the scale (values are rounded against
        // the exact scale); Q4_0's positive end is clamped at +7 steps, up to a whole step away.
        const float bound = t == DType::Q4_0 ? step * (1.0f + 8.0f / 2048) : step * (0.5f + 128.0f / 2048);
        EXPECT_LE(err, bound * 1.0001f + 1e-6f) << "value " << b * 32 + j;
      }
    }
  }
  std::vector<float> zeros(32, 0.0f), out(32, 1.0f);
  std::vector<uint8_t> q(34);
  quantize_row(DType::Q8_0, zeros.data(), q.data(), 32);
  dequantize_row(DType::Q8_0, q.data(), out.data(), 32);
  EXPECT_EQ(out, zeros);
}

TEST(GgufWriter, RejectsBadInput) {
  GgufWriter w;
  w.add_tensor("a", DType::F32, {2}, std::vector<float>{1, 2});
  EXPECT_THROW(w.add_tensor("a", DType::F32, {2}, std::vector<float>{1, 2}), Error);
  EXPECT_THROW(w.add_tensor("b", DType::F32, {3}, std::vector<float>{1, 2}), Error);
  EXPECT_THROW(w.add_tensor("c", DType::Q8_0, {2, 31}, std::vector<float>(62)), Error);
  EXPECT_THROW(w.add_tensor("d", DType::Q4_K, {256}, std::vector<float>(256)), Error);
  EXPECT_THROW(w.add_tensor("e", DType::F16, {4}, std::vector<uint8_t>(7)), Error);
  EXPECT_THROW(w.add_tensor("f", DType::F32, {1, 1, 1, 1, 1}, std::vector<float>{1}), Error);
  EXPECT_THROW(w.set("k", val(GgufType::U8, uint64_t{256})), Error);
  EXPECT_THROW(w.set("k", val(GgufType::I32, uint64_t{1})), Error);
  GgufArray mixed;
  mixed.elem_type = GgufType::U8;
  mixed.items.push_back(val(GgufType::STRING, std::string("x")));
  EXPECT_THROW(w.set("k", val(GgufType::ARRAY, mixed)), Error);
  EXPECT_THROW(GgufWriter(48), Error);
  // The failed calls left nothing behind.
  auto bytes = w.to_bytes();
  auto f = GgufFile::open_memory(bytes.data(), bytes.size(), "mem.gguf");
  EXPECT_EQ(f->tensors().size(), 1u);
  EXPECT_TRUE(f->metadata().empty());
}

}  // namespace
}  // namespace ax
