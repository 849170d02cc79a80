#pragma once
// Numbers the engine keeps for front ends (usage in responses, Prometheus /metrics, bench).
#include <cstdint>

#include "engine/spec_metrics.h"

namespace ax {

// One request, final in its Finish event.
struct RequestMetrics {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;  // prompt tokens served from the prefix cache at its first admission
  int64_t preemptions = 0;
  double queue_s = 0;         // submit -> first scheduled
  double ttft_s = 0;          // submit -> first generated token
  double total_s = 0;         // submit -> finish
  double decode_tokens_per_s = 0;  // (completion_tokens - 1) / (finish - first token)
};

// The engine as a whole: a snapshot taken after each step (Engine::metrics()).
struct EngineMetrics {
  // Now.
  int64_t running = 0;
  int64_t waiting = 0;  // including preempted
  int64_t kv_blocks_total = 0;
  int64_t kv_blocks_used = 0;
  int64_t kv_blocks_free = 0;    // unreferenced, including cached ones that may be evicted
  int64_t kv_blocks_cached = 0;  // registered in the prefix cache (used or free)
  int64_t kv_block_size = 0;
  int64_t prefix_evictions = 0;  // since start: cached blocks reused for other tokens
  // Since start.
  int64_t requests_submitted = 0;
  int64_t requests_finished = 0;  // stop or length
  int64_t requests_cancelled = 0;
  int64_t requests_failed = 0;
  int64_t preemptions = 0;
  int64_t prompt_tokens = 0;         // prompt tokens of admitted requests (first admission)
  int64_t prefix_cached_tokens = 0;  // of those, served from the prefix cache
  int64_t computed_tokens = 0;       // rows run through the model (prefill + decode + drafts)
  int64_t generated_tokens = 0;
  int64_t steps = 0;
  double step_seconds_total = 0;
  double last_step_s = 0;
  int64_t last_step_tokens = 0;
  // The last step's mix (bench traces): decode rows (draft rows included), prefill rows (prompt
  // chunks and recomputation after preemption), sequences in the batch.
  int64_t last_step_decode_rows = 0;
  int64_t last_step_prefill_rows = 0;
  int64_t last_step_sequences = 0;
  SpecMetrics speculation;  // summed over finished and running requests

  double prefix_hit_rate() const {
    return prompt_tokens ? static_cast<double>(prefix_cached_tokens) / prompt_tokens : 0.0;
  }
  double mean_step_s() const { return steps ? step_seconds_total / steps : 0.0; }
};

}  // namespace ax
