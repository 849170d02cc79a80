#pragma once
// Test helpers for the schema compiler and the token mask: whole-document acceptance, and random
// walks through the mask as a model with flat logits would sample (header-only; tests/server
// builds only *_test.cpp files).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "server/json_automaton.h"
#include "server/token_mask.h"

namespace ax::test {

// The automaton takes the whole text and may end there.
inline bool accepts(const server::CompiledSchema& s, const std::string& text) {
  server::JsonAutomaton a(s);
  return a.feed(text) && a.can_end();
}

// A vocabulary of random byte strings cut from JSON-ish text plus every single byte, so that
// any valid continuation is always reachable; the last entry is EOS (no bytes).
inline std::vector<std::string> random_vocab(std::mt19937& rng, const std::vector<std::string>& extra = {}) {
  const std::string alphabet = "{}[]:,\" \n\t0123456789.-+eEabcdefghijklmnopqrstuvwxyz\\/truefalsenull";
  std::vector<std::string> vocab;
  for (int b = 0; b < 256; ++b) vocab.push_back(std::string(1, static_cast<char>(b)));
  for (const char* piece : {"\"name\"", "\"age\"", "{\"", "\":", "\",\"", "true", "false", "null", "\"a\"", "\xC3\xA9", "é\"}"})
    vocab.push_back(piece);
  for (const auto& e : extra) vocab.push_back(e);
  for (int i = 0; i < 1500; ++i) {
    std::string t;
    int len = 2 + rng() % 5;
    for (int j = 0; j < len; ++j) t += alphabet[rng() % alphabet.size()];
    vocab.push_back(t);
  }
  vocab.push_back("");  // EOS
  return vocab;
}

// Samples uniformly among the allowed tokens (EOS, the last vocabulary entry, with probability
// 1/3 once allowed, so walks finish). The text when EOS is chosen; nullopt after max_steps.
// Fails the test if the mask ever allows nothing or forces EOS where the document cannot end.
inline std::optional<std::string> mask_walk(const std::shared_ptr<const server::CompiledSchema>& schema,
                                            const std::vector<std::string>& vocab, std::mt19937& rng,
                                            int max_steps = 400) {
  auto trie = std::make_shared<server::TokenTrie>(vocab, std::vector<bool>(vocab.size()));
  const int32_t eos = static_cast<int32_t>(vocab.size()) - 1;
  server::JsonConstraint constraint(schema, trie, {eos});
  std::string text;
  std::vector<float> logits(vocab.size());
  for (int step = 0; step < max_steps; ++step) {
    std::fill(logits.begin(), logits.end(), 0.0f);
    constraint.mask_logits(logits.data(), static_cast<int64_t>(logits.size()));
    std::vector<int32_t> choices;
    for (size_t i = 0; i < logits.size(); ++i)
      if (logits[i] == 0.0f) choices.push_back(static_cast<int32_t>(i));
    EXPECT_FALSE(choices.empty()) << text;
    if (choices.empty()) return std::nullopt;
    const bool can_end = std::find(choices.begin(), choices.end(), eos) != choices.end();
    const int32_t pick = can_end && (choices.size() == 1 || rng() % 3 == 0) ? eos : choices[rng() % choices.size()];
    if (pick == eos) {
      EXPECT_TRUE(constraint.complete()) << "EOS forced at a dead end: " << text;
      return text;
    }
    EXPECT_TRUE(constraint.advance(pick));
    text += vocab[pick];
  }
  return std::nullopt;  // ran out of steps: a truncated document, as with max_tokens
}

}  // namespace ax::test
