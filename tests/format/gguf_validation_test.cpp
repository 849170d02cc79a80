// Corrupt and hostile GGUF files: each must be an ax::Error naming the file and the key or tensor
// at fault, without crashing, reading out of bounds or allocating absurd amounts of memory.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "test_support.h"
#include "util/error.h"

namespace ax {
namespace {

// Writes GGUF bytes field by field, so tests can put any value anywhere.
struct Raw {
  std::vector<uint8_t> b;
  template <typename T>
  Raw& put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
    return *this;
  }
  Raw& u32(uint32_t v) { return put(v); }
  Raw& u64(uint64_t v) { return put(v); }
  Raw& str(const std::string& s) {
    u64(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Raw& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    b.insert(b.end(), {'G', 'G', 'U', 'F'});
    return u32(version).u64(n_tensors).u64(n_kv);
  }
  Raw& kv_u32(const std::string& key, uint32_t v) { return str(key).u32(4).u32(v); }
  // name, dims (innermost first, as on disk), type, offset
  Raw& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (auto d : ne) u64(d);
    return u32(type).u64(offset);
  }
  Raw& pad(size_t alignment = 32) {
    while (b.size() % alignment) b.push_back(0);
    return *this;
  }
  Raw& data(size_t n) {
    for (size_t i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(i * 7));
    return *this;
  }
};

std::string error_of(const Raw& r) {
  try {
    GgufFile::open_memory(r.b.data(), r.b.size(), "bad.gguf");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The message names the file and contains `part`.
#define EXPECT_GGUF_ERROR(raw, part)                                              \
  do {                                                                            \
    const std::string msg_ = error_of(raw);                                       \
    EXPECT_NE(msg_.find("bad.gguf: "), std::string::npos) << "message: " << msg_; \
    EXPECT_NE(msg_.find(part), std::string::npos) << "message: " << msg_;         \
  } while (0)

TEST(GgufValidation, ValidBaseline) {
  Raw r;
  r.header(2, 1).kv_u32("general.alignment", 32);
  r.tensor("a", {4, 2}, 0, 0).tensor("b", {32}, 8, 32).pad().data(32 + 34);
  EXPECT_EQ(error_of(r), "");
}

TEST(GgufValidation, Header) {
  EXPECT_GGUF_ERROR(Raw{}, "bad magic");
  Raw r;
  r.header(0, 0, 1);
  EXPECT_GGUF_ERROR(r, "GGUF version 1 is not supported");
  EXPECT_GGUF_ERROR(Raw().header(0, 0, 4), "GGUF version 4");
  EXPECT_GGUF_ERROR(Raw().header(0, 0, 0x03000000), "big-endian GGUF files are not supported");
  EXPECT_GGUF_ERROR(Raw().header(0, uint64_t{1} << 60), "metadata count");
  EXPECT_GGUF_ERROR(Raw().header(UINT64_MAX, 0), "tensor count");
  Raw partial;
  partial.b = {'G', 'G', 'U', 'F', 3, 0};
  EXPECT_GGUF_ERROR(partial, "truncated while reading the header");
}

TEST(GgufValidation, Metadata) {
  EXPECT_GGUF_ERROR(Raw().header(0, 1).str("k").u32(13).u32(0), "metadata key 'k' has unknown value type 13");
  EXPECT_GGUF_ERROR(Raw().header(0, 2).kv_u32("dup", 1).kv_u32("dup", 2), "metadata key 'dup' appears twice");
  EXPECT_GGUF_ERROR(Raw().header(0, 1).str("k").u32(8).u64(uint64_t{1} << 62), "truncated while reading metadata key 'k'");
  EXPECT_GGUF_ERROR(Raw().header(0, 1).u64(UINT64_MAX).data(20), "truncated while reading metadata entry #0");
  // Huge array counts are refused before anything is allocated.
  EXPECT_GGUF_ERROR(Raw().header(0, 1).str("arr").u32(9).u32(8).u64(uint64_t{1} << 61), "metadata key 'arr' array count");
  EXPECT_GGUF_ERROR(Raw().header(0, 1).str("arr").u32(9).u32(0).u64(100).data(99), "metadata key 'arr' array count");
  EXPECT_GGUF_ERROR(Raw().header(0, 1).str("arr").u32(9).u32(77).u64(1), "array of unknown type 77");
  EXPECT_GGUF_ERROR(Raw().header(0, 1).str("flag").u32(7).put<uint8_t>(2), "metadata key 'flag' holds bool byte 2");
  // Arrays of arrays nest at most 4 deep.
  Raw deep;
  deep.header(0, 1).str("deep");
  deep.u32(9);
  for (int i = 0; i < 6; ++i) deep.u32(9).u64(1);
  deep.u32(0).u64(0);
  EXPECT_GGUF_ERROR(deep, "nests arrays deeper");
  Raw nested;
  nested.header(0, 1).str("nested").u32(9).u32(9).u64(2);
  nested.u32(4).u64(1).u32(5).u32(8).u64(1).str("x");
  EXPECT_EQ(error_of(nested), "");
  EXPECT_GGUF_ERROR(Raw().header(0, 1).str("general.alignment").u32(4).u32(48), "'general.alignment' is 48, not a power of two");
  EXPECT_GGUF_ERROR(Raw().header(0, 1).str("general.alignment").u32(8).str("x"), "'general.alignment' has type STRING");
}

TEST(GgufValidation, Tensors) {
  auto one = [](std::vector<uint64_t> ne, uint32_t type, uint64_t offset, size_t data) {
    Raw r;
    r.header(1, 0).tensor("w", std::move(ne), type, offset).pad().data(data);
    return r;
  };
  EXPECT_EQ(error_of(one({32, 2}, 8, 0, 68)), "");
  EXPECT_GGUF_ERROR(one({32, 2}, 5, 0, 68), "tensor 'w' has unknown type id 5");
  EXPECT_GGUF_ERROR(one({32, 2}, 99, 0, 68), "tensor 'w' has unknown type id 99");
  EXPECT_GGUF_ERROR(one({33, 2}, 8, 0, 68), "tensor 'w' rows of 33 values are not a whole number of Q8_0 blocks");
  EXPECT_GGUF_ERROR(one({32, 2}, 8, 0, 67), "tensor 'w' bytes [0, 68) run past the end of the 67-byte data section");
  EXPECT_GGUF_ERROR(one({32, 2}, 8, 64, 100), "tensor 'w' bytes [64, 132)");
  EXPECT_GGUF_ERROR(one({32, 2}, 8, UINT64_MAX - 31, 100), "tensor 'w' bytes");
  EXPECT_GGUF_ERROR(one({32, 2}, 8, 16, 100), "tensor 'w' offset 16 is not a multiple of the alignment 32");
  EXPECT_GGUF_ERROR(one({1, 1, 1, 1, 1}, 0, 0, 4), "tensor 'w' has 5 dimensions");
  EXPECT_GGUF_ERROR(one({}, 0, 0, 4), "tensor 'w' has 0 dimensions");
  EXPECT_GGUF_ERROR(one({uint64_t{1} << 40, uint64_t{1} << 40}, 0, 0, 4), "tensor 'w' size overflows");
  EXPECT_GGUF_ERROR(one({uint64_t{1} << 63}, 0, 0, 4), "tensor 'w' has dimension");

  Raw dup;
  dup.header(2, 0).tensor("w", {4}, 0, 0).tensor("w", {4}, 0, 32).pad().data(64);
  EXPECT_GGUF_ERROR(dup, "tensor 'w' appears twice");
  Raw overlap;
  overlap.header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {4}, 0, 32).pad().data(64);
  EXPECT_GGUF_ERROR(overlap, "tensors 'a' and 'b' overlap");
  Raw no_data;
  no_data.header(1, 0).tensor("w", {4}, 0, 0);
  EXPECT_GGUF_ERROR(no_data, "before the data section");
  Raw truncated_info;
  truncated_info.header(1, 0).str("w").u32(4).u64(4).u64(1).u64(1);  // 4 dims, 3 given
  EXPECT_GGUF_ERROR(truncated_info, "truncated while reading tensor info 'w'");
}

// Random byte flips of a real file (the fuzzer does this at scale): errors or a valid parse,
// never a crash; any error names the file.
TEST(GgufValidation, RandomCorruption) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_strings("tokenizer.ggml.tokens", {"a", "b", "c"});
  w.set_f32s("tokenizer.ggml.scores", {1, 2, 3});
  w.add_tensor("x", DType::Q8_0, {2, 64}, std::vector<float>(128, 0.5f));
  const auto good = w.to_bytes();
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  int errors = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    auto b = good;
    const int flips = std::uniform_int_distribution<int>(1, 4)(rng);
    for (int k = 0; k < flips; ++k)
      b[std::uniform_int_distribution<size_t>(0, b.size() - 1)(rng)] = static_cast<uint8_t>(rng());
    try {
      auto f = GgufFile::open_memory(b.data(), b.size(), "flip.gguf");
      for (const auto& t : f->tensors()) ASSERT_LE(t.data + t.nbytes, b.data() + b.size());
    } catch (const Error& e) {
      ++errors;
      ASSERT_NE(std::string(e.what()).find("flip.gguf"), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(errors, 0);
}

}  // namespace
}  // namespace ax
