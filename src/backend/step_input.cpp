#include "backend/step_input.h"

#include <algorithm>
#include <limits>

#include "util/error.h"

namespace ax {

StepInput::StepInput(int32_t block_size) : block_size_(block_size) {
  if (block_size <= 0) fail("step input: block size {} must be positive", block_size);
  clear();
}

void StepInput::clear() {
  tokens.clear();
  positions.clear();
  slots.clear();
  token_seq.clear();
  seq_begin.assign(1, 0);
  table_begin.assign(1, 0);
  block_tables.clear();
  logit_rows.clear();
  state_slots.clear();
  max_context_ = 0;
  max_table_blocks_ = 0;
}

int64_t StepInput::add_sequence(std::span<const int32_t> new_tokens, int64_t start_pos,
                                std::span<const int32_t> table, int32_t state_slot) {
  const int64_t first_row = num_tokens();
  const int64_t n = static_cast<int64_t>(new_tokens.size());
  if (n == 0) return first_row;
  if (start_pos < 0) fail("step input: sequence {} starts at negative position {}", num_sequences(), start_pos);
  const int64_t end = start_pos + n;
  if (end > std::numeric_limits<int32_t>::max() || first_row + n > std::numeric_limits<int32_t>::max())
    fail("step input: sequence {} reaches position {}, beyond what a step can address", num_sequences(), end - 1);
  const int64_t need = (end + block_size_ - 1) / block_size_;
  if (static_cast<int64_t>(table.size()) < need)
    fail("step input: sequence {} reaches position {} but its block table has {} blocks of {} slots", num_sequences(),
         end - 1, table.size(), block_size_);
  const int32_t s = static_cast<int32_t>(num_sequences());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t pos = start_pos + i;
    tokens.push_back(new_tokens[i]);
    positions.push_back(static_cast<int32_t>(pos));
    const int64_t block = table[pos / block_size_];
    slots.push_back(static_cast<int32_t>(block * block_size_ + pos % block_size_));
    token_seq.push_back(s);
  }
  seq_begin.push_back(static_cast<int32_t>(num_tokens()));
  block_tables.insert(block_tables.end(), table.begin(), table.begin() + need);
  table_begin.push_back(static_cast<int32_t>(block_tables.size()));
  state_slots.push_back(state_slot);
  max_context_ = std::max(max_context_, end);
  max_table_blocks_ = std::max(max_table_blocks_, need);
  return first_row;
}

void StepInput::add_logit_row(int64_t row) { logit_rows.push_back(static_cast<int32_t>(row)); }

void StepInput::validate(int64_t num_blocks, int64_t vocab_size) const {
  if (num_blocks > std::numeric_limits<int32_t>::max() / block_size_)
    fail("step input: a pool of {} blocks of {} slots is beyond what a step can address", num_blocks, block_size_);
  for (int64_t s = 0; s < num_sequences(); ++s) {
    // Released entries may only precede the block of the sequence's first new token.
    const int64_t first_written = seq_begin[s] < seq_begin[s + 1] ? positions[seq_begin[s]] / block_size_ : 0;
    for (int32_t b = table_begin[s]; b < table_begin[s + 1]; ++b) {
      if (block_tables[b] == kReleased && b - table_begin[s] < first_written) continue;
      if (block_tables[b] < 0 || block_tables[b] >= num_blocks)
        fail("step input: sequence {} block table entry {} is block {}, outside the cache's {} blocks", s,
             b - table_begin[s], block_tables[b], num_blocks);
    }
  }
  for (int64_t t = 0; t < num_tokens(); ++t)
    if (tokens[t] < 0 || tokens[t] >= vocab_size)
      fail("step input: token {} of sequence {} is id {}, outside the vocabulary of {}", t, token_seq[t], tokens[t],
           vocab_size);
  for (int32_t r : logit_rows)
    if (r < 0 || r >= num_tokens()) fail("step input: logit row {} is outside the step's {} tokens", r, num_tokens());
}

}  // namespace ax
