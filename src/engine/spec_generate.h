#pragma once
// One sequence generated straight over Model::forward with its own contiguous KV cache, with or
// without n-gram speculation: prefill the prompt, then each step forwards [last, d1..dj] (j = 0
// when nothing is drafted), verifies the rows with the request's sampler and keeps the accepted
// prefix plus one token. The KV cache needs no explicit rollback here: the kept length moves back
// and rejected positions are overwritten by the next step (the engine does the same through its
// block manager). Used by `ax-engine generate` and the speculation benchmark; the engine runs the
// same verify step for many sequences at once.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "engine/sampler.h"
#include "engine/spec_metrics.h"
#include "engine/spec_params.h"
#include "engine/spec_gate.h"
#include "backend/kv_cache.h"
#include "model/model.h"

namespace ax {

struct SingleGenerateOptions {
  int64_t max_tokens = 256;
  std::vector<int32_t> eos_ids;  // generation stops after emitting one of these (it is included)
  bool ignore_eos = false;
  SamplingParams sampling;
  SpeculationParams speculation;
  SpecGateOptions gate;  // gate.fixed_row_cost >= 0 replaces the measured row cost
  int64_t block_size = 16;
  KvType kv_type = KvType::F16;  // as the engine's default (EngineConfig::kv_type)
};

struct SingleGenerateResult {
  std::vector<int32_t> tokens;  // generated, in order
  bool stopped_at_eos = false;
  double prefill_s = 0;
  double decode_s = 0;           // from the first generated token's step to the end
  int64_t forward_steps = 0;     // decode forward passes (each emits >= 1 token)
  SpecMetrics speculation;
  double row_cost = 0;           // the extra-row cost the gate used last
};

// on_tokens (optional) receives the tokens of each step as they are produced.
SingleGenerateResult generate_single(Model& model, std::span<const int32_t> prompt,
                                     const SingleGenerateOptions& options,
                                     const std::function<void(std::span<const int32_t>)>& on_tokens = {});

}  // namespace ax
