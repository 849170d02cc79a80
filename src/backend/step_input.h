#pragma once
// One forward step's input, flat: the new tokens of several sequences at once (prefill chunks,
// decode tokens and draft tokens mixed), where each one's K/V goes, each sequence's block table,
// and which rows need logits. Built once per step on the host (the engine, a CLI loop, a test) and
// uploaded by the backend in one piece, so the arrays have fixed shapes a recorded graph can read.
//
// Sequence s owns tokens [seq_begin[s], seq_begin[s + 1]) at consecutive positions; its block
// table is block_tables[table_begin[s] .. table_begin[s + 1]), block ids in position order covering
// every position up to its last new token. Position p lives in block table[p / block_size], slot
// p % block_size; slots[t] = that block * block_size + slot. A table entry of -1 (kReleased) is a
// block the sequence gave up because it lies before every sliding window of every layer: no query
// of the step reads it. Entries that hold a new token's slot are never -1.
#include <cstdint>
#include <span>
#include <vector>

namespace ax {

class StepInput {
 public:
  static constexpr int32_t kReleased = -1;

  explicit StepInput(int32_t block_size = 16);

  void clear();  // no sequences; the block size stays
  // Adds a sequence's new tokens at positions [start_pos, start_pos + tokens.size()); `table`
  // must cover them (longer tables are cut to what the step needs). Returns the step row of its
  // first token. A sequence with no tokens adds nothing.
  // state_slot: the sequence's recurrent-state slot in the KV cache (hybrid models; -1: none).
  int64_t add_sequence(std::span<const int32_t> tokens, int64_t start_pos, std::span<const int32_t> table,
                       int32_t state_slot = -1);
  void add_logit_row(int64_t row);  // rows in the order their logits are returned

  int64_t num_tokens() const { return static_cast<int64_t>(tokens.size()); }
  int64_t num_sequences() const { return static_cast<int64_t>(seq_begin.size()) - 1; }
  int64_t num_logit_rows() const { return static_cast<int64_t>(logit_rows.size()); }
  int32_t block_size() const { return block_size_; }
  // The longest context any sequence attends over in this step (its last position + 1).
  int64_t max_context() const { return max_context_; }
  int64_t max_table_blocks() const { return max_table_blocks_; }

  // Before anything is written: block ids inside a pool of num_blocks, tokens inside the
  // vocabulary, logit rows inside the step. Throws ax::Error naming what is wrong.
  void validate(int64_t num_blocks, int64_t vocab_size) const;

  // The arrays, read by the backends.
  std::vector<int32_t> tokens;        // [T]
  std::vector<int32_t> positions;     // [T]
  std::vector<int32_t> slots;         // [T]
  std::vector<int32_t> token_seq;     // [T] sequence index of each token
  std::vector<int32_t> seq_begin;     // [S + 1]
  std::vector<int32_t> table_begin;   // [S + 1]
  std::vector<int32_t> block_tables;  // [table_begin[S]]
  std::vector<int32_t> logit_rows;    // [R]
  std::vector<int32_t> state_slots;   // [S] recurrent-state slot of each sequence (-1: none)

 private:
  int32_t block_size_;
  int64_t max_context_ = 0;
  int64_t max_table_blocks_ = 0;
};

}  // namespace ax
