// ChatPrompt (tokenizer/chat_prompt.h): a conversation rendered with the model's template or the
// ChatML layout and tokenized with special tokens whole, with exactly one BOS for tokenizers that
// start every text with one.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

#include "tokenizer/chat_prompt.h"
#include "tokenizer_test_util.h"
#include "util/error.h"

namespace ax {
namespace {

using nlohmann::ordered_json;

// A conversation of 1-4 messages (maybe a system message, then alternating user/assistant, ending
// with a user turn) with random mixed-script contents. random_text writes special-token spellings
// ("</s>", "<|im_start|>") too; without_markup drops every '<' so contents hold none.
ordered_json random_conversation(std::mt19937_64& rng, bool without_markup = false) {
  auto content = [&](size_t chars) {
    std::string s = test::random_text(rng, chars);
    if (without_markup) std::erase(s, '<');
    return s;
  };
  ordered_json msgs = ordered_json::array();
  if (rng() % 2) msgs.push_back({{"role", "system"}, {"content", content(20)}});
  const int turns = 1 + static_cast<int>(rng() % 2);
  for (int i = 0; i < turns; ++i) {
    msgs.push_back({{"role", "user"}, {"content", content(30)}});
    if (i + 1 < turns) msgs.push_back({{"role", "assistant"}, {"content", content(30)}});
  }
  return msgs;
}

std::string chatml(const ordered_json& msgs) {
  std::string s;
  for (const auto& m : msgs)
    s += "<|im_start|>" + m["role"].get<std::string>() + "\n" + m["content"].get<std::string>() + "<|im_end|>\n";
  return s + "<|im_start|>assistant\n";
}

// ax-code-15m: byte-level BPE with its own ChatML template; the special tokens become single ids.
TEST(ChatPrompt, ModelTemplateTokenizesSpecialTokensWhole) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const Tokenizer& tok = test::tokenizer("hf:ax-code-15m");
  ASSERT_FALSE(tok.chat_template().empty());
  ChatPrompt p(tok, tok.chat_template());
  EXPECT_FALSE(p.uses_chatml());
  EXPECT_TRUE(p.stop_strings().empty());
  const int32_t im_start = tok.token_id("<|im_start|>");
  ASSERT_GE(im_start, 0);
  for (int iter = 0; iter < 20; ++iter) {
    const ordered_json msgs = random_conversation(rng);
    const std::string expected = chatml(msgs);
    ASSERT_EQ(p.render(msgs), expected);
    std::vector<int32_t> ids = tok.encode(expected, /*add_special=*/false, /*parse_special=*/true);
    if (tok.adds_bos()) ids.insert(ids.begin(), tok.bos_id());
    EXPECT_EQ(p.encode(msgs), ids);
    EXPECT_EQ(p.encode(msgs)[tok.adds_bos() ? 1 : 0], im_start);
  }
}

// stories260K (SentencePiece, adds BOS, no template, no <|im_end|> token): the ChatML layout gets
// one BOS in front and needs "<|im_end|>" as a stop string.
TEST(ChatPrompt, ChatmlOnSentencePieceGetsOneBos) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const Tokenizer& tok = test::tokenizer("gguf-file:models/stories260K/stories260K.gguf");
  ASSERT_TRUE(tok.adds_bos());
  ASSERT_TRUE(tok.chat_template().empty());
  ChatPrompt p(tok, "");
  EXPECT_TRUE(p.uses_chatml());
  EXPECT_EQ(p.stop_strings(), std::vector<std::string>{"<|im_end|>"});
  for (int iter = 0; iter < 20; ++iter) {
    const ordered_json msgs = random_conversation(rng);
    const std::vector<int32_t> ids = p.encode(msgs);
    EXPECT_EQ(ids, tok.encode(chatml(msgs), /*add_special=*/true, /*parse_special=*/true));
    ASSERT_GE(ids.size(), 2u);
    EXPECT_EQ(ids[0], tok.bos_id());
    EXPECT_NE(ids[1], tok.bos_id());
  }
}

// A template that writes {{ bos_token }} itself (Llama/Mistral style) on a tokenizer that adds BOS:
// still exactly one BOS, and the eos_token variable is the tokenizer's EOS piece.
TEST(ChatPrompt, TemplateBosIsNotDoubled) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const Tokenizer& tok = test::tokenizer("gguf:llama-spm");
  ASSERT_TRUE(tok.adds_bos());
  ChatPrompt p(tok,
               "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}{% if m.role == 'assistant' %}"
               "{{ eos_token }}{% endif %}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}");
  for (int iter = 0; iter < 20; ++iter) {
    const ordered_json msgs = random_conversation(rng, /*without_markup=*/true);
    const std::string text = p.render(msgs);
    ASSERT_EQ(text.rfind(tok.token_piece(tok.bos_id()), 0), 0u) << text;
    const std::vector<int32_t> ids = p.encode(msgs);
    EXPECT_EQ(ids, tok.encode(text, /*add_special=*/false, /*parse_special=*/true));
    ASSERT_GE(ids.size(), 2u);
    EXPECT_EQ(ids[0], tok.bos_id());
    EXPECT_NE(ids[1], tok.bos_id());
    const size_t assistants = std::count_if(msgs.begin(), msgs.end(), [](const auto& m) { return m["role"] == "assistant"; });
    EXPECT_EQ(static_cast<size_t>(std::count(ids.begin(), ids.end(), tok.eos_id())), assistants);
  }
}

TEST(ChatPrompt, BrokenTemplateIsAnError) {
  const Tokenizer& tok = test::tokenizer("hf:ax-code-15m");
  EXPECT_THROW(ChatPrompt(tok, "{% for m in messages %}{{ m.content | no_such_filter }}"), Error);
  ChatPrompt p(tok, "{{ raise_exception('roles must alternate') }}");
  EXPECT_THROW(p.encode(ordered_json::parse(R"([{"role":"user","content":"x"}])")), Error);
}

}  // namespace
}  // namespace ax
