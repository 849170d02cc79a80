// Token ids of the reference prompts of the real models in ../shared: the ids the fixtures were
// made from must come out of our encode exactly.
//   ax-code-15m (tokenizer.json): input_ids.i = [0 (<|endoftext|>)] + tokenizer.encode(text_i)
//   stories260K (GGUF):           input_ids.i = [BOS 1] + llama2.c encode(text_i)
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "format/safetensors.h"
#include "model/model_source.h"
#include "tokenizer_test_util.h"

namespace ax::test {
namespace {

std::vector<int32_t> read_ids(const SafetensorsFile& st, const std::string& name) {
  const TensorView* t = st.tensor(name);
  if (!t) throw std::runtime_error("missing tensor " + name);
  std::vector<int32_t> ids(t->numel());
  std::memcpy(ids.data(), t->data, ids.size() * sizeof(int32_t));
  return ids;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  return nlohmann::json::parse(f);
}

TEST(ModelReference, AxCode15mPrompts) {
  const std::string dir = shared_model("ax-code-15m");
  auto ref = read_json(dir + "/reference.json");
  auto st = SafetensorsFile::open(dir + "/reference.safetensors");
  const Tokenizer& tok = tokenizer("hf:ax-code-15m");
  ASSERT_EQ(ref["inputs"].size(), 3u);
  for (size_t i = 0; i < ref["inputs"].size(); ++i) {
    std::string text = ref["inputs"][i]["text"];
    std::vector<int32_t> want = read_ids(*st, "input_ids." + std::to_string(i));
    std::vector<int32_t> got = {0};
    auto ids = tok.encode(text, /*add_special=*/true);  // the config adds no BOS
    got.insert(got.end(), ids.begin(), ids.end());
    EXPECT_EQ(got, want) << "prompt " << i;
    EXPECT_EQ(tok.decode(ids), text);
  }
}

TEST(ModelReference, Stories260kPrompts) {
  auto ref = read_json(fixture("stories260K/reference.json"));
  auto st = SafetensorsFile::open(fixture("stories260K/reference.safetensors"));
  const Tokenizer& tok = tokenizer("gguf-file:models/stories260K/stories260K.gguf");
  ASSERT_EQ(tok.vocab_size(), 512);
  for (size_t i = 0; i < ref["inputs"].size(); ++i) {
    std::string text = ref["inputs"][i]["text"];
    std::vector<int32_t> want = read_ids(*st, "input_ids." + std::to_string(i));
    // The GGUF says add BOS (id 1), exactly the fixture's [BOS] + encode(text).
    EXPECT_EQ(tok.encode(text, /*add_special=*/true), want) << "prompt " << i;
    EXPECT_EQ(tok.decode(want, /*skip_special=*/true), text);
  }
}

// The greedy continuations decode to text and stream to the same text.
TEST(ModelReference, Stories260kGreedyStreams) {
  auto st = SafetensorsFile::open(fixture("stories260K/reference.safetensors"));
  const Tokenizer& tok = tokenizer("gguf-file:models/stories260K/stories260K.gguf");
  for (int i = 0; i < 3; ++i) {
    auto ids = read_ids(*st, "greedy." + std::to_string(i));
    StreamDecoder sd(tok);
    std::string streamed;
    for (int32_t id : ids) streamed += sd.push(id);
    streamed += sd.flush();
    EXPECT_EQ(streamed, tok.decode(ids, /*skip_special=*/true));
    EXPECT_FALSE(streamed.empty());
  }
}

// load_tokenizer(ModelSource) reads GGUF metadata or the HF folder's tokenizer.json.
TEST(ModelReference, LoadFromModelSource) {
  auto hf = open_model(shared_model("ax-code-15m"));
  auto a = load_tokenizer(*hf);
  EXPECT_EQ(a->kind(), "bpe (byte-level)");
  EXPECT_EQ(a->vocab_size(), 8192);
  auto gguf = open_model(shared_model("stories260K/stories260K.gguf"));
  auto b = load_tokenizer(*gguf);
  EXPECT_EQ(b->kind(), "spm");
  EXPECT_EQ(b->encode("Once upon a time"), tokenizer("gguf-file:models/stories260K/stories260K.gguf").encode("Once upon a time"));
}

}  // namespace
}  // namespace ax::test
