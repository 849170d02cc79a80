// llama.cpp's tokenizer test vectors (../shared/models/llamacpp-vocab/*.inp/.out, produced from
// the models' own Hugging Face tokenizers): every case must give exactly the expected ids.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tokenizer/utf8.h"
#include "tokenizer_test_util.h"

namespace ax::test {

std::vector<VocabCase> read_vocab_cases(const std::string& vocab) {
  auto slurp = [](const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + path);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  const std::string base = vocab_dir() + "/ggml-vocab-" + vocab + ".gguf";
  std::string inp = slurp(base + ".inp"), out = slurp(base + ".out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t pos = 0; pos < inp.size();) {
    size_t next = inp.find(sep, pos);
    if (next == std::string::npos) {
      texts.push_back(inp.substr(pos));
      break;
    }
    texts.push_back(inp.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<VocabCase> cases;
  std::istringstream lines(out);
  std::string line;
  for (const auto& t : texts) {
    if (!std::getline(lines, line)) throw std::runtime_error(base + ".out has fewer lines than cases");
    VocabCase c{t, {}};
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  return cases;
}

namespace {

std::string show(const std::vector<int32_t>& v) {
  std::string s;
  for (int32_t id : v) s += std::to_string(id) + " ";
  return s;
}

void check_vectors(const std::string& tokenizer_name, const std::string& vocab) {
  const Tokenizer& tok = tokenizer(tokenizer_name);
  auto cases = read_vocab_cases(vocab);
  ASSERT_GE(cases.size(), 40u);
  int failures = 0;
  for (const auto& c : cases) {
    auto got = tok.encode(c.text, /*add_special=*/false, /*parse_special=*/false);
    if (got != c.ids) {
      ++failures;
      ADD_FAILURE() << tokenizer_name << " text '" << c.text << "'\n expected " << show(c.ids)
                    << "\n got      " << show(got);
    }
  }
  EXPECT_EQ(failures, 0) << "of " << cases.size() << " cases";
}

}  // namespace

TEST(VocabVectors, Qwen2Gguf) { check_vectors("gguf:qwen2", "qwen2"); }
TEST(VocabVectors, Qwen35Gguf) { check_vectors("gguf:qwen35", "qwen35"); }
TEST(VocabVectors, LlamaBpeGguf) { check_vectors("gguf:llama-bpe", "llama-bpe"); }
TEST(VocabVectors, LlamaSpmGguf) { check_vectors("gguf:llama-spm", "llama-spm"); }
TEST(VocabVectors, Gpt2Gguf) { check_vectors("gguf:gpt-2", "gpt-2"); }
TEST(VocabVectors, Phi3Gguf) { check_vectors("gguf:phi-3", "phi-3"); }
TEST(VocabVectors, Gemma4Gguf) { check_vectors("gguf:gemma-4", "gemma-4"); }
// The Qwen3 tokenizer.json has the same vocabulary and merges as ggml-vocab-qwen2.gguf.
TEST(VocabVectors, Qwen3TokenizerJson) { check_vectors("hf:qwen3-tokenizer", "qwen2"); }

// decode(encode(text)) gives the text back for every vector (normalization aside).
TEST(VocabVectors, DecodeGivesTextBack) {
  for (const char* vocab : {"qwen2", "qwen35", "llama-bpe", "llama-spm", "gpt-2", "phi-3", "gemma-4"}) {
    const Tokenizer& tok = tokenizer(std::string("gguf:") + vocab);
    for (const auto& c : read_vocab_cases(vocab)) {
      EXPECT_EQ(tok.decode(c.ids), c.text) << vocab;
    }
  }
}

}  // namespace ax::test
