#pragma once
// One forward step's input: the new tokens of several sequences at once (prefill chunks and decode
// tokens mixed), each sequence's place in the KV cache, and which rows need logits.
#include <cstdint>
#include <vector>

namespace ax {

struct BatchSequence {
  int64_t token_offset = 0;  // first index into Batch::tokens
  int64_t num_tokens = 0;    // this sequence's new tokens in this step
  int64_t start_pos = 0;     // position of its first new token (= tokens already in the cache)
  // Block ids in position order, covering positions [0, start_pos + num_tokens).
  const std::vector<int32_t>* block_table = nullptr;
};

struct Batch {
  std::vector<int32_t> tokens;          // [T] grouped by sequence, positions ascending
  std::vector<BatchSequence> sequences;
  std::vector<int64_t> logit_rows;      // indices into tokens whose logits are returned, in order

  int64_t num_tokens() const { return static_cast<int64_t>(tokens.size()); }
};

}  // namespace ax
