#include "engine/metric_samples.h"

namespace ax {

std::vector<MetricSample> metric_samples(const EngineMetrics& m) {
  const double kv_usage = m.kv_blocks_total ? static_cast<double>(m.kv_blocks_used) / m.kv_blocks_total : 0.0;
  auto n = [](int64_t v) { return static_cast<double>(v); };
  return {
      {"ax_requests_running", "Sequences in the running batch.", "gauge", n(m.running)},
      {"ax_requests_waiting", "Sequences queued for admission (queue depth, preempted included).", "gauge", n(m.waiting)},
      {"ax_kv_blocks_total", "KV cache blocks in the pool.", "gauge", n(m.kv_blocks_total)},
      {"ax_kv_blocks_used", "KV cache blocks referenced by live sequences.", "gauge", n(m.kv_blocks_used)},
      {"ax_kv_blocks_cached", "KV cache blocks registered in the prefix cache.", "gauge", n(m.kv_blocks_cached)},
      {"ax_kv_cache_usage_ratio", "Fraction of KV cache blocks in use.", "gauge", kv_usage},
      {"ax_engine_preemptions_total", "Sequences preempted for lack of KV blocks.", "counter", n(m.preemptions)},
      {"ax_engine_prompt_tokens_total", "Prompt tokens admitted.", "counter", n(m.prompt_tokens)},
      {"ax_prefix_cache_hit_tokens_total", "Prompt tokens served from the prefix cache.", "counter",
       n(m.prefix_cached_tokens)},
      {"ax_prefix_cache_hit_ratio", "Prefix-cache hit tokens over prompt tokens.", "gauge", m.prefix_hit_rate()},
      {"ax_prefix_cache_evicted_blocks_total", "Cached prefix blocks evicted to hold other tokens.", "counter",
       n(m.prefix_evictions)},
      {"ax_engine_steps_total", "Engine steps run.", "counter", n(m.steps)},
      {"ax_engine_computed_tokens_total", "Rows run through the model.", "counter", n(m.computed_tokens)},
      {"ax_engine_generated_tokens_total", "Tokens generated, counted as each step produces them.", "counter",
       n(m.generated_tokens)},
      {"ax_spec_drafted_tokens_total", "Draft tokens proposed by n-gram speculation.", "counter",
       n(m.speculation.drafted_tokens)},
      {"ax_spec_accepted_tokens_total", "Draft tokens accepted.", "counter", n(m.speculation.accepted_tokens)},
      {"ax_spec_acceptance_ratio", "Accepted over drafted tokens.", "gauge", m.speculation.acceptance_rate()},
  };
}

}  // namespace ax
