#pragma once
// Shared helpers for the tokenizer tests: loading (cached, the big vocabularies take a moment)
// and the llama.cpp vocabulary test vectors.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "format/gguf.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace ax::test {

inline std::string vocab_dir() { return shared_model("llamacpp-vocab"); }

// "gguf:qwen2" (llamacpp-vocab/ggml-vocab-qwen2.gguf) or "hf:<folder under models/>".
inline const Tokenizer& tokenizer(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[name];
  if (!slot) {
    if (name.rfind("gguf:", 0) == 0) {
      auto g = GgufFile::open(vocab_dir() + "/ggml-vocab-" + name.substr(5) + ".gguf");
      slot = load_tokenizer(*g);
    } else if (name.rfind("gguf-file:", 0) == 0) {
      auto g = GgufFile::open(shared_dir() + "/" + name.substr(10));
      slot = load_tokenizer(*g);
    } else {
      slot = load_tokenizer_hf(shared_model(name.substr(3)));
    }
  }
  return *slot;
}

struct VocabCase {
  std::string text;
  std::vector<int32_t> ids;
};

// <vocab>.inp holds the texts separated by "\n__ggml_vocab_test__\n"; <vocab>.out holds one line
// of space-separated ids per text (encoded without BOS/EOS, special tokens not parsed).
std::vector<VocabCase> read_vocab_cases(const std::string& vocab);

uint64_t fresh_seed();
// Random text mixing ASCII words, code, long whitespace runs, CJK, emoji (with ZWJ sequences and
// variation selectors), combining marks, Cyrillic/Khmer, and every UTF-8 length.
std::string random_text(std::mt19937_64& rng, size_t approx_chars);

}  // namespace ax::test
