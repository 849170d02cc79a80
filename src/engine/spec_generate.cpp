#include "engine/spec_generate.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "engine/spec_sequence.h"
#include "engine/spec_verify.h"
#include "backend/kv_cache.h"
#include "util/error.h"

namespace ax {
namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

SingleGenerateResult generate_single(Model& model, std::span<const int32_t> prompt,
                                     const SingleGenerateOptions& o,
                                     const std::function<void(std::span<const int32_t>)>& on_tokens) {
  const ModelConfig& cfg = model.config();
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  if (n_prompt == 0) fail("generate: the prompt is empty");
  if (o.max_tokens < 0) fail("generate: max_tokens {} must be >= 0", o.max_tokens);
  // Positions that may hold K/V: the prompt and the generated tokens but the last. Drafts fit in
  // the same room: a step drafts at most the tokens it may still emit minus one.
  int64_t context = n_prompt + o.max_tokens;
  if (cfg.max_position_embeddings > 0) context = std::min<int64_t>(context, cfg.max_position_embeddings);
  if (cfg.max_position_embeddings > 0 && n_prompt >= cfg.max_position_embeddings)
    fail("generate: the prompt's {} tokens do not fit the model's context of {}", n_prompt,
         cfg.max_position_embeddings);
  Backend& be = model.backend();
  KvCache kv(be, model.kv_shape(), (context + o.block_size - 1) / o.block_size, o.block_size, o.kv_type,
             /*state_slots=*/1);
  // Hybrid models: a verify step runs the recurrent state through every draft token; the state
  // before it is kept to return to when drafts are rejected (the accepted rows are then run again).
  const bool recurrent = kv.state_floats() > 0;
  std::vector<int32_t> table(kv.num_blocks());
  std::iota(table.begin(), table.end(), 0);

  SingleGenerateResult r;
  Sampler sampler(o.sampling, cfg.vocab_size);
  sampler.add_context(prompt);
  SpecSequence spec(o.speculation, prompt, o.gate);
  StepCostModel cost(o.gate);

  StepInput in(static_cast<int32_t>(o.block_size));
  in.add_sequence(prompt, 0, table, /*state_slot=*/0);
  in.add_logit_row(n_prompt - 1);
  const auto t_prefill = std::chrono::steady_clock::now();
  std::span<const float> logits = be.to_host(model.forward(in, kv));
  r.prefill_s = seconds_since(t_prefill);
  if (o.max_tokens == 0) return r;

  const auto t_decode = std::chrono::steady_clock::now();
  auto is_eos = [&](int32_t t) {
    return !o.ignore_eos && std::find(o.eos_ids.begin(), o.eos_ids.end(), t) != o.eos_ids.end();
  };
  // The first token comes from the prefill's logits.
  std::vector<int32_t> draft;  // the draft verified by the pending logits (empty after prefill)
  std::vector<int32_t> rows_in;  // the tokens of the last step
  int64_t pos = n_prompt;      // tokens whose K/V is in the cache
  bool after_prefill = true;
  while (true) {
    const VerifyOutcome v = verify_with_sampler(draft, logits.data(), cfg.vocab_size, sampler);
    spec.verified(static_cast<int>(draft.size()), v.accepted);
    // K/V of `last` and the accepted drafts are now final: positions [pos, pos + accepted].
    if (recurrent && v.accepted < static_cast<int>(draft.size())) {
      kv.restore_state(0);
      in.clear();
      in.add_sequence(std::span(rows_in).first(1 + v.accepted), pos, table, 0);
      model.forward(in, kv);  // no logit rows: only the state moves on
      ++r.forward_steps;
    }
    if (!after_prefill) pos += 1 + v.accepted;
    after_prefill = false;
    size_t take = v.emitted.size();
    take = std::min<size_t>(take, o.max_tokens - r.tokens.size());
    for (size_t i = 0; i < take; ++i)
      if (is_eos(v.emitted[i])) {
        take = i + 1;
        r.stopped_at_eos = true;
        break;
      }
    std::span<const int32_t> step(v.emitted.data(), take);
    r.tokens.insert(r.tokens.end(), step.begin(), step.end());
    spec.append(step);
    if (on_tokens) on_tokens(step);
    const int64_t remaining = o.max_tokens - static_cast<int64_t>(r.tokens.size());
    if (r.stopped_at_eos || remaining <= 0 || pos >= context) break;
    // Next step: [last, d1..dj]; j bounded by the tokens still wanted (the step emits j + 1 at
    // most) and by the cache.
    const int cap = static_cast<int>(
        std::min<int64_t>({remaining - 1, context - pos - 1, SpeculationParams::kMaxMaxDraft}));
    r.row_cost = cost.row_cost(1);
    draft = spec.propose(cap, r.row_cost, cost.jump_cost(1));
    rows_in.assign(1, r.tokens.back());
    rows_in.insert(rows_in.end(), draft.begin(), draft.end());
    const int64_t rows = static_cast<int64_t>(rows_in.size());
    in.clear();
    in.add_sequence(rows_in, pos, table, 0);
    for (int64_t i = 0; i < rows; ++i) in.add_logit_row(i);
    if (recurrent && !draft.empty()) kv.save_state(0);
    const auto t_step = std::chrono::steady_clock::now();
    logits = be.to_host(model.forward(in, kv));
    cost.record(rows, seconds_since(t_step));
    ++r.forward_steps;
  }
  r.decode_s = seconds_since(t_decode);
  r.speculation = spec.metrics();
  return r;
}

}  // namespace ax
