#include "server/token_mask.h"

#include <algorithm>
#include <limits>

#include "tokenizer/tokenizer.h"

namespace ax::server {

TokenTrie::TokenTrie(const std::vector<std::string>& token_bytes, const std::vector<bool>& excluded)
    : bytes_(token_bytes), vocab_size_(static_cast<int64_t>(token_bytes.size())) {
  nodes_.emplace_back();
  for (size_t id = 0; id < token_bytes.size(); ++id) {
    const std::string& bytes = token_bytes[id];
    if (id < excluded.size() && excluded[id]) bytes_[id].clear();
    if (bytes.empty() || (id < excluded.size() && excluded[id])) continue;
    int32_t cur = 0;
    for (char c : bytes) {
      uint8_t b = static_cast<uint8_t>(c);
      auto& ch = nodes_[cur].children;
      auto it = std::lower_bound(ch.begin(), ch.end(), b, [](auto& e, uint8_t x) { return e.first < x; });
      if (it != ch.end() && it->first == b) {
        cur = it->second;
      } else {
        int32_t next = static_cast<int32_t>(nodes_.size());
        ch.insert(it, {b, next});
        nodes_.emplace_back();  // may reallocate: ch is not used after this
        cur = next;
      }
    }
    nodes_[cur].tokens.push_back(static_cast<int32_t>(id));
  }
  classify_plain_tokens();
}

void TokenTrie::classify_plain_tokens() {
  // A token is plain when an unbounded string takes it whole and is still between characters.
  static const CompiledSchema any_string = compile_json_schema(nlohmann::json{{"type", "string"}}, "schema");
  plain_chars_.assign(vocab_size_, -1);
  for (int64_t id = 0; id < vocab_size_; ++id) {
    const std::string& b = bytes_[id];
    if (b.empty() || b.find_first_of("\"\\") != std::string::npos) continue;
    JsonAutomaton a(any_string);
    if (!a.feed('"') || !a.feed(b) || a.free_string_room() < 0) continue;
    int32_t chars = 0;
    for (char c : b) chars += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
    plain_chars_[id] = chars;
  }
  // Children always come after their parent, so one backward pass settles every subtree.
  has_special_.assign(nodes_.size(), 0);
  for (size_t n = nodes_.size(); n-- > 0;) {
    for (int32_t id : nodes_[n].tokens) has_special_[n] |= plain_chars_[id] < 0;
    for (auto [byte, child] : nodes_[n].children) has_special_[n] |= has_special_[child];
  }
}

const std::string& TokenTrie::token_bytes(int32_t id) const {
  static const std::string kNone;
  return id >= 0 && id < vocab_size_ ? bytes_[id] : kNone;
}

std::shared_ptr<const TokenTrie> TokenTrie::from_tokenizer(const Tokenizer& tok) {
  const int32_t n = tok.vocab_size();
  std::vector<std::string> bytes(n);
  std::vector<bool> excluded(n);
  for (int32_t id = 0; id < n; ++id) {
    excluded[id] = tok.is_special(id);
    if (!excluded[id]) bytes[id] = tok.token_bytes(id);
  }
  return std::make_shared<TokenTrie>(bytes, excluded);
}

// state is changed during the walk and restored before returning. Inside a string, number or
// literal almost every edge is an in-place step (no copy); a copy is made only where a frame ends
// or begins.
void TokenTrie::walk(int32_t node, JsonAutomaton& state, std::vector<uint8_t>& allowed, bool only_special) const {
  auto mark = [&](int32_t child) {
    for (int32_t id : nodes_[child].tokens)
      if (!only_special || plain_chars_[id] < 0) allowed[id] = 1;
  };
  for (auto [byte, child] : nodes_[node].children) {
    if (only_special && !has_special_[child]) continue;
    JsonAutomaton::Undo undo;
    switch (state.feed_in_place(byte, undo)) {
      case JsonAutomaton::InPlace::Rejected:
        continue;
      case JsonAutomaton::InPlace::Accepted:
        mark(child);
        walk(child, state, allowed, only_special);
        state.undo(undo);
        continue;
      case JsonAutomaton::InPlace::Fallback: {
        JsonAutomaton next = state;
        if (!next.feed(byte)) continue;
        mark(child);
        walk(child, next, allowed, only_special);
      }
    }
  }
}

void TokenTrie::allowed_tokens(const JsonAutomaton& state, std::vector<uint8_t>& allowed) const {
  allowed.assign(vocab_size_, 0);
  const int64_t room = state.free_string_room();
  if (room >= 0)
    for (int64_t id = 0; id < vocab_size_; ++id) allowed[id] = plain_chars_[id] >= 0 && plain_chars_[id] <= room;
  JsonAutomaton work = state;
  walk(0, work, allowed, /*only_special=*/room >= 0);
}

JsonConstraint::JsonConstraint(std::shared_ptr<const CompiledSchema> schema,
                               std::shared_ptr<const TokenTrie> trie, std::vector<int32_t> end_tokens)
    : schema_(std::move(schema)), trie_(std::move(trie)), end_tokens_(std::move(end_tokens)),
      automaton_(*schema_) {}

void JsonConstraint::mask_logits(float* logits, int64_t vocab_size) {
  std::string key = automaton_.state_key();
  auto hit = std::find_if(cache_.begin(), cache_.end(), [&](auto& e) { return e.first == key; });
  if (hit != cache_.end()) {
    allowed_ = hit->second;
  } else {
    trie_->allowed_tokens(automaton_, allowed_);
    if (cache_.size() == kCachedMasks) cache_.erase(cache_.begin());
    cache_.emplace_back(std::move(key), allowed_);
  }
  allowed_.resize(std::max<int64_t>(vocab_size, static_cast<int64_t>(allowed_.size())), 0);
  bool any = false;
  for (int64_t i = 0; i < vocab_size; ++i) any |= allowed_[i] != 0;
  // End tokens where the document may end, or as the only way out of a dead end (which the
  // automaton's limits make unreachable, but a stuck request must still finish).
  if (automaton_.can_end() || !any)
    for (int32_t e : end_tokens_)
      if (e >= 0 && e < vocab_size) allowed_[e] = 1;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < vocab_size; ++i)
    if (!allowed_[i]) logits[i] = kNegInf;
}

bool JsonConstraint::advance(int32_t token) {
  if (std::find(end_tokens_.begin(), end_tokens_.end(), token) != end_tokens_.end()) return true;
  const std::string& bytes = trie_->token_bytes(token);
  return !bytes.empty() && automaton_.feed(bytes);
}

}  // namespace ax::server
