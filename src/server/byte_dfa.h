#pragma once
// Finite automata over bytes, for string keywords (pattern, format) under constrained decoding.
// A ByteNfa is built by the regex compiler (regex.h); ByteDfa::from_nfa determinises it and trims
// every state that cannot reach acceptance, so a DFA state the automaton holds always has a way
// to finish. Tables are indexed by byte class (bytes no transition tells apart share a column):
// a pattern's DFA usually needs a few dozen columns, not 256.
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

namespace ax::server {

// Thompson NFA: byte-range edges, free (epsilon) edges, and two assertions: "at the start of the
// string" (followed only before the first byte) and "at the end" (followed only to decide
// acceptance).
struct ByteNfa {
  struct Edge {
    uint8_t lo, hi;
    int32_t to;
  };
  struct State {
    std::vector<Edge> edges;
    std::vector<int32_t> free, at_start, at_end;
  };
  std::vector<State> states;
  int32_t start = -1, accept = -1;

  int32_t add_state() {
    states.emplace_back();
    return static_cast<int32_t>(states.size()) - 1;
  }
};

class ByteDfa {
 public:
  static constexpr int32_t kDead = -1;

  // nullopt when more than max_states states would be needed.
  static std::optional<ByteDfa> from_nfa(const ByteNfa& nfa, size_t max_states);
  // Strings both accept (allOf of two patterns, a pattern and a format).
  static std::optional<ByteDfa> intersect(const ByteDfa& a, const ByteDfa& b, size_t max_states);

  int32_t start() const { return start_; }  // kDead when nothing is accepted
  int32_t next(int32_t state, uint8_t byte) const { return table_[state * num_classes_ + class_of_[byte]]; }
  bool accepting(int32_t state) const { return accepting_[state] != 0; }
  size_t num_states() const { return accepting_.size(); }
  bool empty() const { return start_ == kDead; }

  // For each state, the numbers of characters (UTF-8 lead bytes) in accepted continuations from
  // it, as a bitset of cap + 1 bits where bit cap stands for "cap or more". words() per state.
  struct Lengths {
    int cap = 0;
    int words = 0;
    std::vector<uint64_t> bits;  // [state][word]
    // Some continuation from state has between lo and hi characters (hi < 0: no upper limit).
    // Exact when cap > hi (bounded) or cap > lo (unbounded).
    bool any_between(int32_t state, int64_t lo, int64_t hi) const;
  };
  Lengths lengths(int cap) const;

 private:
  // Builds from a full 256-column table: drops states that cannot reach acceptance, then merges
  // equal byte columns into classes.
  static ByteDfa finish(std::vector<int32_t> full_table, std::vector<uint8_t> accepting, int32_t start);

  std::array<uint8_t, 256> class_of_{};
  int32_t num_classes_ = 1;
  std::vector<int32_t> table_;  // [state][class]
  std::vector<uint8_t> accepting_;
  int32_t start_ = kDead;
};

}  // namespace ax::server
