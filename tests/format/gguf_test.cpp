#include "format/gguf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "test_support.h"
#include "util/error.h"

namespace ax {
namespace {

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open");  // a missing fixture fails the test, not the process
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

std::string error_of(const std::vector<uint8_t>& bytes, size_t n) {
  try {
    GgufFile::open_memory(bytes.data(), n, "mem.gguf");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Gguf, Stories) {
  auto f = GgufFile::open(test::shared_model("stories260K/stories260K.gguf"));
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->data_offset() % 32, 0u);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_int("llama.block_count"), 5);
  EXPECT_EQ(f->get_int_or("llama.no_such_key", -7), -7);
  EXPECT_NEAR(f->get_float_or("llama.attention.layer_norm_rms_epsilon", 0), 1e-5, 1e-9);
  const GgufValue* tokens = f->find("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  ASSERT_EQ(tokens->type, GgufType::ARRAY);
  EXPECT_EQ(tokens->as_array().elem_type, GgufType::STRING);
  EXPECT_EQ(tokens->as_array().items.size(), 512u);
  EXPECT_EQ(tokens->as_array().items[1].as_string(), "<s>");
  EXPECT_EQ(f->find("tokenizer.ggml.scores")->as_array().elem_type, GgufType::F32);
  EXPECT_EQ(f->find("tokenizer.ggml.token_type")->as_array().items[0].as_int(), 2);  // <unk>: UNKNOWN

  // Wrong-type access names the key and both types.
  try {
    f->get_int("general.architecture");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'general.architecture' has type STRING, expected an integer"),
              std::string::npos);
  }
  EXPECT_THROW(f->get_string("missing.key"), Error);

  ASSERT_EQ(f->tensors().size(), 48u);
  const TensorView* q = f->tensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->shape, (std::vector<int64_t>{64, 64}));
  const TensorView* ffn_down = f->tensor("blk.0.ffn_down.weight");
  EXPECT_EQ(ffn_down->shape, (std::vector<int64_t>{64, 172}));  // GGUF ne = [172, 64]
  EXPECT_EQ(ffn_down->nbytes, 64u * 172 * 4);
  size_t total = 0;
  for (const auto& t : f->tensors()) total += (t.nbytes + 31) / 32 * 32;
  EXPECT_LE(f->data_offset() + total, std::filesystem::file_size(test::shared_model("stories260K/stories260K.gguf")) + 31);
}

// The tokenizer-only GGUFs from llama.cpp (no tensors, large string arrays, chat templates).
TEST(Gguf, VocabFiles) {
  for (const char* name : {"llama-spm", "llama-bpe", "qwen2", "gpt-2", "phi-3", "gemma-4"}) {
    SCOPED_TRACE(name);
    auto f = GgufFile::open(test::shared_model(std::string("llamacpp-vocab/ggml-vocab-") + name + ".gguf"));
    EXPECT_TRUE(f->tensors().empty());
    const auto& tokens = f->find("tokenizer.ggml.tokens")->as_array();
    EXPECT_GT(tokens.items.size(), 30000u);
    const std::string arch = f->get_string("general.architecture");
    if (f->find(arch + ".vocab_size")) {
      EXPECT_EQ(f->get_int(arch + ".vocab_size"), static_cast<int64_t>(tokens.items.size()));
    }
  }
}

TEST(Gguf, QuantFixtureTensors) {
  auto f = GgufFile::open(test::fixture("quants/quants.gguf"));
  ASSERT_EQ(f->tensors().size(), 13u);
  for (const auto& t : f->tensors()) {
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.shape, (std::vector<int64_t>{64, 1024}));
    EXPECT_EQ(t.nbytes, row_bytes(t.dtype, 1024) * 64);
    std::string lower(dtype_name(t.dtype));
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(t.name, lower + ".w");
  }
}

TEST(Gguf, TruncatedAtEveryCutPoint) {
  const auto bytes = read_bytes(test::shared_model("stories260K/stories260K.gguf"));
  auto f = GgufFile::open_memory(bytes.data(), bytes.size(), "mem.gguf");
  // Every cut inside the header, then a spread of cuts through the data section.
  std::vector<size_t> cuts;
  for (size_t n = 0; n < f->data_offset() + 64; ++n) cuts.push_back(n);
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (int i = 0; i < 200; ++i) cuts.push_back(std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng));
  for (size_t n : cuts) {
    const std::string msg = error_of(bytes, n);
    ASSERT_FALSE(msg.empty()) << "cut at " << n << " was accepted";
    ASSERT_NE(msg.find("mem.gguf"), std::string::npos) << msg;
  }
}

TEST(Gguf, BadMagicAndVersion) {
  auto bytes = read_bytes(test::shared_model("stories260K/stories260K.gguf"));
  auto b = bytes;
  b[0] = 'X';
  EXPECT_NE(error_of(b, b.size()).find("bad magic"), std::string::npos);
  for (uint32_t v : {1u, 4u, 0xffffffffu}) {
    b = bytes;
    std::memcpy(&b[4], &v, 4);
    EXPECT_NE(error_of(b, b.size()).find(fmt::format("GGUF version {} is not supported", v)), std::string::npos);
  }
  uint32_t v2 = 2;
  b = bytes;
  std::memcpy(&b[4], &v2, 4);
  EXPECT_EQ(error_of(b, b.size()), "");  // v2 and v3 share the layout
}

}  // namespace
}  // namespace ax
