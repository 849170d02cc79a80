#pragma once
// A byte-level recogniser for JSON that matches a compiled schema (json_schema.h): feed it bytes,
// it says whether the output so far is still a prefix of some valid document. Deterministic
// pushdown frames, with a set of alternative stacks only where anyOf makes the grammar ambiguous.
// The state is a value (copyable), so the token mask can try every vocabulary entry from one state.
//
// Limits that keep generation finite: whitespace runs of at most kMaxWhitespace bytes, nesting of
// at most kMaxDepth, numbers of at most 15 integer / 15 fraction / 2 exponent digits.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/json_schema.h"

namespace ax::server {

class JsonAutomaton {
 public:
  static constexpr int kMaxWhitespace = 16;
  static constexpr size_t kMaxDepth = 32;
  static constexpr size_t kMaxAlternatives = 32;

  // The schema must outlive the automaton (it is shared by every copy). root: the node the
  // document must match (default: the schema's root).
  explicit JsonAutomaton(const CompiledSchema& schema, int root = -1);

  // False (and the state unchanged) when the byte(s) cannot extend a valid document.
  bool feed(uint8_t byte);
  bool feed(std::string_view bytes);
  // The document is complete: ending here gives valid JSON matching the schema.
  bool can_end() const;
  // Nothing but the end may follow (a closed root value and the whole suffix).
  bool must_end() const;
  // Inside the text of a string with no pattern, between characters (one alternative only): how
  // many more characters it may take (INT64_MAX: no limit). Then any bytes that are whole UTF-8
  // characters, none a control character, quote or backslash, are accepted up to that many
  // characters, whatever the rest of the state (the token mask's fast path). -1 otherwise.
  int64_t free_string_room() const;
  // Equal keys mean equal futures: the same continuations are valid from both states. (A
  // string's character count is folded where its limits no longer depend on it, so the many
  // states inside one long string share a key and the token mask can be reused.)
  std::string state_key() const;

  struct Frame {
    int32_t node = 0;
    uint8_t kind = 0;       // FrameKind
    uint8_t phase = 0;
    uint8_t utf8_left = 0;  // string: continuation bytes still expected
    uint8_t utf8_lo = 0x80, utf8_hi = 0xBF;  // string: range of the next continuation byte
    int32_t count = 0;      // string: characters; array: items; number: digits of the part;
                            // literal/key: bytes matched; object: free keys written (under
                            // min/maxProperties)
    int32_t aux = -1;       // object: key whose value is open; key: matched key;
                            // string: \\u digits still expected; number under a range: 1 if negative
    uint64_t mask = 0;      // object: keys seen; literal/key: candidates still matching;
                            // string: the digits of a \\u escape; number under a range: the
                            // integer digits' value
    int32_t dfa = 0;        // string under a pattern: the pattern automaton's state
    uint64_t frac = 0;      // number under a range: the fraction digits' value
    bool operator==(const Frame&) const = default;
  };
  // In-place stepping for the token-mask walk: when the state is one stack whose top frame is a
  // leaf (string, number, literal, key) and the byte only changes that frame, feed_in_place
  // applies it without copying anything and undo() takes it back.
  enum class InPlace { Accepted, Rejected, Fallback };
  struct Undo;
  InPlace feed_in_place(uint8_t byte, Undo& undo);
  void undo(const Undo& undo);

  struct Stack {
    std::vector<Frame> frames;
    int32_t whitespace_run = 0;
    bool operator==(const Stack&) const = default;
  };
  struct Undo {
    Frame top;
    int32_t whitespace_run = 0;
  };

 private:
  // Consumed: the byte is the top frame's. Done: consumed, and the top frame is complete.
  // NotMine: the top frame ended before this byte. Pushed: a child was pushed to take the byte.
  enum class Step { Consumed, Done, NotMine, Pushed, Reject };
  void feed_stack(Stack st, uint8_t b, std::vector<Stack>& out) const;
  Step step(Stack& st, uint8_t b) const;
  void child_done(Stack& st, const Frame& child) const;
  bool whitespace(Stack& st, uint8_t b) const;

  bool document_closed() const;  // every alternative has closed its root value

  const CompiledSchema* schema_;
  std::vector<Stack> stacks_;
  uint32_t prefix_pos_ = 0;  // bytes of schema_->prefix matched
  uint32_t suffix_pos_ = 0;  // bytes of schema_->suffix matched
};

}  // namespace ax::server
