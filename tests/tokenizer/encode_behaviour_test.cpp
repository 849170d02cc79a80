// Normalization, concurrency and empty/odd inputs.
#include <gtest/gtest.h>

#include <thread>

#include "tokenizer_test_util.h"

namespace ax::test {
namespace {

// tokenizer.json asks for NFC: "e" + U+0301 tokenizes as "é". GGUF files carry no normalizer
// (llama.cpp does not normalize), so there the two spellings differ.
TEST(EncodeBehaviour, NfcFromTokenizerJson) {
  const Tokenizer& hf = tokenizer("hf:qwen3-tokenizer");
  EXPECT_EQ(hf.encode("caf\x65\xCC\x81", false), hf.encode("caf\xC3\xA9", false));
  const Tokenizer& gguf = tokenizer("gguf:qwen2");
  EXPECT_NE(gguf.encode("caf\x65\xCC\x81", false), gguf.encode("caf\xC3\xA9", false));
}

// One tokenizer, many threads (the server shares one): same ids as a single thread.
TEST(EncodeBehaviour, ConcurrentEncodeIsConsistent) {
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (const char* name : {"gguf:qwen2", "gguf:llama-spm", "gguf:gemma-4"}) {
    const Tokenizer& tok = tokenizer(name);
    std::vector<std::string> texts;
    for (int i = 0; i < 16; ++i) texts.push_back(random_text(rng, 300));
    std::vector<std::vector<int32_t>> want;
    for (const auto& t : texts) want.push_back(tok.encode(t));
    std::vector<std::thread> threads;
    std::vector<int> bad(4, 0);
    for (int k = 0; k < 4; ++k) {
      threads.emplace_back([&, k] {
        for (int rep = 0; rep < 20; ++rep)
          for (size_t i = 0; i < texts.size(); ++i)
            if (tok.encode(texts[(i + k) % texts.size()]) != want[(i + k) % texts.size()]) ++bad[k];
      });
    }
    for (auto& t : threads) t.join();
    for (int k = 0; k < 4; ++k) EXPECT_EQ(bad[k], 0) << name << " thread " << k;
  }
}

TEST(EncodeBehaviour, EmptyAndWhitespaceOnly) {
  for (const char* name : {"gguf:qwen2", "gguf:llama-spm", "gguf:gemma-4", "hf:ax-code-15m"}) {
    const Tokenizer& tok = tokenizer(name);
    EXPECT_TRUE(tok.encode("", false).empty()) << name;
    auto bos = tok.encode("", true);
    EXPECT_EQ(bos.size(), tok.adds_bos() ? 1u : 0u) << name;
    const std::string ws(5000, ' ');
    EXPECT_EQ(tok.decode(tok.encode(ws, false)), ws) << name;
    const std::string nl(3000, '\n');
    EXPECT_EQ(tok.decode(tok.encode(nl, false)), nl) << name;
  }
}

// A long word without spaces (base64-like) goes through the heap merge, not the cache.
TEST(EncodeBehaviour, LongWordsRoundTrip) {
  const uint64_t seed = fresh_seed();
  std::mt19937_64 rng(seed);
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string word;
  for (int i = 0; i < 20000; ++i) word += alphabet[rng() % 64];
  for (const char* name : {"gguf:qwen2", "gguf:llama-spm", "gguf:gemma-4", "gguf:gpt-2"}) {
    const Tokenizer& tok = tokenizer(name);
    EXPECT_EQ(tok.decode(tok.encode(word, false)), word) << name << " seed " << seed;
  }
}

}  // namespace
}  // namespace ax::test
