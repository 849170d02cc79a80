#pragma once
// Constrained decoding over any vocabulary: a token is allowed iff its bytes, appended to the
// output so far, keep the output a valid prefix (json_automaton.h). The vocabulary's byte strings
// sit in a trie, so one automaton copy per trie edge tests every token sharing that prefix at once,
// and a rejected edge prunes its whole subtree.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/logits_processor.h"
#include "server/json_automaton.h"

namespace ax {
class Tokenizer;
}

namespace ax::server {

class TokenTrie {
 public:
  // token_bytes[id]: the bytes token id adds to the text. Tokens listed in excluded (special and
  // control tokens) and empty ones never match.
  TokenTrie(const std::vector<std::string>& token_bytes, const std::vector<bool>& excluded);
  static std::shared_ptr<const TokenTrie> from_tokenizer(const Tokenizer& tok);

  int64_t vocab_size() const { return vocab_size_; }
  // The bytes token id adds ("" for excluded tokens and ids outside the vocabulary).
  const std::string& token_bytes(int32_t id) const;

  // allowed[id] = 1 for every token the automaton accepts from its current state.
  void allowed_tokens(const JsonAutomaton& state, std::vector<uint8_t>& allowed) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;  // byte -> node, sorted by byte
    std::vector<int32_t> tokens;                         // tokens whose bytes end here
  };
  // only_special: inside string text, where plain tokens are already decided: visit only subtrees
  // holding other tokens, and set only those.
  void walk(int32_t node, JsonAutomaton& state, std::vector<uint8_t>& allowed, bool only_special) const;
  void classify_plain_tokens();
  std::vector<Node> nodes_;
  std::vector<std::string> bytes_;  // [vocab]; excluded tokens empty
  int64_t vocab_size_ = 0;
  // String-text fast path: a token that is plain string text (whole UTF-8 characters, no control
  // character, quote or backslash) is accepted inside any pattern-less string exactly when its
  // characters fit the room left, so it needs no walk there. plain_chars_[id]: its characters,
  // -1 if it is not plain. has_special_[node]: the subtree holds a token that is not plain.
  std::vector<int32_t> plain_chars_;
  std::vector<uint8_t> has_special_;
};

// One request's constraint: masks logits before sampling, advances on the sampled token. The
// engine calls it as the request's LogitsProcessor.
class JsonConstraint : public LogitsProcessor {
 public:
  JsonConstraint(std::shared_ptr<const CompiledSchema> schema, std::shared_ptr<const TokenTrie> trie,
                 std::vector<int32_t> end_tokens);

  // Sets logits of disallowed tokens to -inf. End tokens are allowed only where the document
  // may end; when nothing else fits they are the only choice.
  void mask_logits(float* logits, int64_t vocab_size);
  // Advances over a sampled token; false if it was not allowed (the state is then unchanged).
  bool advance(int32_t token);
  bool complete() const { return automaton_.can_end(); }

  void process(float* logits, int64_t vocab) override { mask_logits(logits, vocab); }
  void accept(int32_t token) override { advance(token); }

 private:
  std::shared_ptr<const CompiledSchema> schema_;
  std::shared_ptr<const TokenTrie> trie_;
  std::vector<int32_t> end_tokens_;
  JsonAutomaton automaton_;
  std::vector<uint8_t> allowed_;
  // The last few masks by automaton state key: inside a long string consecutive steps share one.
  static constexpr size_t kCachedMasks = 4;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> cache_;
};

}  // namespace ax::server
