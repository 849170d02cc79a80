#pragma once
// Sizing the KV pool. The pool is preallocated once, so its size is a budget: by default a fraction
// of the memory the system says is available, capped at what max_num_seqs sequences of the full
// context could ever use (a small model should not grab gigabytes it can never fill).
#include <cstdint>
#include <string>

#include "backend/kv_cache.h"

namespace ax {

struct KvPoolPlan {
  int64_t num_blocks = 0;
  int64_t bytes = 0;        // num_blocks * bytes per block
  int64_t state_bytes = 0;  // hybrid models: the recurrent states of max_num_seqs sequences (float32)
  std::string explanation;  // one line: where the number came from (for logs and `doctor`)
};

// budget_bytes > 0: use exactly that budget (the --kv-memory flag). 0: the backend's default (a
// share of its free memory, Backend::default_kv_budget). Either way capped at max_num_seqs * max_model_len tokens (rounded up to
// blocks) and never below the blocks one full-length sequence needs when the budget allows it.
// Hybrid models (shape.state_floats > 0): the budget pays first for one recurrent-state slot per
// sequence (max_num_seqs of them), the blocks get the rest. Throws ax::Error when not even one
// block fits what is left.
KvPoolPlan plan_kv_pool(const KvShape& shape, int64_t block_size, int64_t budget_bytes, const KvBudget& default_budget,
                        int64_t max_num_seqs, int64_t max_model_len, KvType type);

}  // namespace ax
