#include "engine/kv_budget.h"

#include <fmt/format.h>

#include <algorithm>

#include "util/error.h"

namespace ax {

KvPoolPlan plan_kv_pool(const KvShape& shape, int64_t block_size, int64_t budget_bytes, const KvBudget& default_budget,
                        int64_t max_num_seqs, int64_t max_model_len, KvType type) {
  if (block_size <= 0) fail("--kv-block-size {} must be positive", block_size);
  if (max_num_seqs <= 0) fail("--max-num-seqs {} must be positive", max_num_seqs);
  if (max_model_len <= 0) fail("max model length {} must be positive", max_model_len);
  const int64_t per_block = static_cast<int64_t>(KvCache::bytes_per_block(shape, block_size, type));
  if (per_block <= 0) fail("model config gives KV blocks of {} bytes", per_block);
  std::string source;
  int64_t budget = budget_bytes;
  if (budget_bytes < 0) fail("--kv-memory {} must not be negative", budget_bytes);
  if (budget == 0) {
    budget = default_budget.bytes;
    source = default_budget.source;
  } else {
    source = "--kv-memory";
  }
  // Hybrid models keep a recurrent state (float32) per sequence slot beside the blocks, one slot per
  // sequence that may run at once: it comes out of the same budget.
  const int64_t state_bytes = shape.state_floats * static_cast<int64_t>(sizeof(float)) * max_num_seqs;
  std::string state_note;
  if (state_bytes > 0) {
    if (budget - state_bytes < per_block)
      fail("the KV memory budget of {} bytes ({}) does not hold the recurrent states of {} sequences ({} bytes) "
           "and one KV block of {} bytes",
           budget, source, max_num_seqs, state_bytes, per_block);
    state_note = fmt::format(", after {:.1f} MiB of recurrent state for {} sequences", state_bytes / double(1 << 20),
                             max_num_seqs);
  }
  const int64_t blocks_per_seq = (max_model_len + block_size - 1) / block_size;
  const int64_t cap = blocks_per_seq * max_num_seqs;
  int64_t blocks = (budget - state_bytes) / per_block;
  if (blocks <= 0)
    fail("the KV memory budget of {} bytes ({}) is smaller than one KV block of {} bytes", budget,
         source, per_block);
  std::string capped;
  if (blocks > cap) {
    blocks = cap;
    capped = fmt::format(", capped at {} sequences x {} tokens", max_num_seqs, max_model_len);
  }
  KvPoolPlan p;
  p.num_blocks = blocks;
  p.bytes = blocks * per_block;
  p.state_bytes = state_bytes;
  p.explanation = fmt::format("KV cache: {} blocks of {} tokens ({:.1f} MiB, {} tokens, {}) from {}{}{}",
                              blocks, block_size, p.bytes / double(1 << 20), blocks * block_size,
                              kv_type_name(type), source, state_note, capped);
  return p;
}

}  // namespace ax
