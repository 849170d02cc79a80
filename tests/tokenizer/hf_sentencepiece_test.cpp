// The tokenizer.json path for SentencePiece-style BPE (Llama 2 as transformers saves it: BPE with
// byte_fallback, normalizer Prepend("▁") + Replace(" ", "▁"), decoder ... + Strip). No such file
// ships in ../shared, so the test writes one from ggml-vocab-llama-spm.gguf the way transformers'
// LlamaConverter does (merges = every split of every piece into two pieces, ordered by the merged
// piece's score, stable), and then requires the llama-spm test vectors from it.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tokenizer/text_tokenizer.h"
#include "tokenizer/utf8.h"
#include "tokenizer_test_util.h"

namespace ax::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Character boundaries (byte offsets) of a UTF-8 string, ends excluded.
std::vector<size_t> inner_boundaries(const std::string& s) {
  std::vector<size_t> b;
  for (size_t i = 0; i < s.size();) {
    i += std::min(utf8::seq_len(static_cast<uint8_t>(s[i])), s.size() - i);
    if (i < s.size()) b.push_back(i);
  }
  return b;
}

// legacy: Llama 2 as first converted (normalizer Prepend + Replace, decoder Strip). Otherwise the
// newer form: no normalizer, a Metaspace pre-tokenizer (prepend_scheme "first", split false)
// and a Metaspace decoder.
std::string write_llama2_style_folder(bool legacy = true) {
  const auto* spm = dynamic_cast<const TextTokenizer*>(&tokenizer("gguf:llama-spm"));
  if (!spm) throw std::runtime_error("llama-spm is not a TextTokenizer");
  const TokenizerSpec& s = spm->spec();
  json vocab = json::object();
  std::unordered_map<std::string, int32_t> ids;
  for (size_t i = 0; i < s.pieces.size(); ++i) {
    vocab[s.pieces[i]] = i;
    ids.emplace(s.pieces[i], static_cast<int32_t>(i));
  }
  struct Merge {
    std::string l, r;
    float score;
    int32_t lid, rid;
  };
  std::vector<Merge> merges;
  for (size_t i = 0; i < s.pieces.size(); ++i) {
    if (s.kinds[i] != TokenKind::Normal) continue;
    const std::string& p = s.pieces[i];
    std::vector<Merge> local;
    for (size_t cut : inner_boundaries(p)) {
      auto l = ids.find(p.substr(0, cut)), r = ids.find(p.substr(cut));
      if (l != ids.end() && r != ids.end()) local.push_back({l->first, r->first, s.scores[i], l->second, r->second});
    }
    std::sort(local.begin(), local.end(), [](const Merge& a, const Merge& b) {
      return a.lid != b.lid ? a.lid < b.lid : a.rid < b.rid;
    });
    merges.insert(merges.end(), local.begin(), local.end());
  }
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) { return a.score > b.score; });
  json jm = json::array();
  for (const Merge& m : merges) jm.push_back(json::array({m.l, m.r}));

  json added = json::array();
  for (int id : {0, 1, 2})
    added.push_back({{"id", id}, {"content", s.pieces[id]}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  json tj = {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer", {{"type", "Sequence"}, {"normalizers", json::array({
          {{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}})}}},
      {"pre_tokenizer", nullptr},
      {"post_processor", {{"type", "TemplateProcessing"},
                          {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                                  {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
                          {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder", {{"type", "Sequence"}, {"decoders", json::array({
          {{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
          {{"type", "ByteFallback"}}, {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}}},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"}, {"fuse_unk", true},
                 {"byte_fallback", true}, {"vocab", vocab}, {"merges", jm}}},
  };
  json cfg = {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}, {"add_bos_token", true},
              {"add_eos_token", false}, {"chat_template", "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}"}};
  if (!legacy) {
    tj["normalizer"] = nullptr;
    tj["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"},
                           {"prepend_scheme", "first"}, {"split", false}};
    tj["decoder"] = {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"},
                     {"prepend_scheme", "first"}, {"split", false}};
  }
  const fs::path dir = fs::temp_directory_path() / ("ax_llama2_tokenizer_" + std::to_string(fresh_seed()));
  fs::create_directories(dir);
  std::ofstream(dir / "tokenizer.json") << tj.dump();
  std::ofstream(dir / "tokenizer_config.json") << cfg.dump();
  return dir.string();
}

TEST(HfSentencePiece, Llama2StyleTokenizerJsonPassesLlamaSpmVectors) {
  const std::string dir = write_llama2_style_folder();
  auto tok = load_tokenizer_hf(dir);
  fs::remove_all(dir);
  EXPECT_EQ(tok->kind(), "bpe (sentencepiece-style, byte fallback)");
  EXPECT_TRUE(tok->adds_bos());
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_FALSE(tok->chat_template().empty());
  int failures = 0;
  for (const auto& c : read_vocab_cases("llama-spm")) {
    auto got = tok->encode(c.text, false, false);
    if (got != c.ids) {
      ++failures;
      std::string e, g;
      for (int32_t id : c.ids) e += std::to_string(id) + " ";
      for (int32_t id : got) g += std::to_string(id) + " ";
      ADD_FAILURE() << "text '" << c.text << "'\n expected " << e << "\n got      " << g;
    }
    EXPECT_EQ(tok->decode(got), c.text);
  }
  EXPECT_EQ(failures, 0);
  // Same ids as the GGUF SentencePiece tokenizer on random text.
  const uint64_t seed = fresh_seed();
  std::mt19937_64 rng(seed);
  const Tokenizer& gguf = tokenizer("gguf:llama-spm");
  for (int i = 0; i < 20; ++i) {
    std::string s = random_text(rng, 1 + rng() % 200);
    ASSERT_EQ(tok->encode(s, true, false), gguf.encode(s, true, false)) << "seed " << seed << " text '" << s << "'";
  }
}

// Metaspace adds "▁" only where the text does not already start with one, and (scheme "first")
// only at the start of the input, not after special tokens.
TEST(HfSentencePiece, MetaspaceFirstScheme) {
  const std::string dir = write_llama2_style_folder(/*legacy=*/false);
  auto tok = load_tokenizer_hf(dir);
  fs::remove_all(dir);
  const Tokenizer& gguf = tokenizer("gguf:llama-spm");
  EXPECT_EQ(tok->encode("Hello world", false), gguf.encode("Hello world", false));
  EXPECT_EQ(tok->encode(" Hello", false), gguf.encode("Hello", false));  // no second "▁"
  EXPECT_EQ(tok->decode(tok->encode("Hello world", false)), "Hello world");
  const int32_t eos = tok->token_id("</s>");
  auto ids = tok->encode("Hi</s>there", false, /*parse_special=*/true);
  ASSERT_EQ(ids.size(), gguf.encode("Hi", false).size() + 1 + 1);
  EXPECT_EQ(ids[ids.size() - 2], eos);
  EXPECT_EQ(tok->token_piece(ids.back()), "there");  // no "▁there" after the special token
}

}  // namespace
}  // namespace ax::test
