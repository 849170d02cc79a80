#include "engine/engine.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "engine/kv_budget.h"
#include "engine/sequence.h"
#include "engine/spec_verify.h"
#include "util/error.h"

namespace ax {

const char* to_string(RequestState s) {
  switch (s) {
    case RequestState::Waiting: return "waiting";
    case RequestState::Running: return "running";
    case RequestState::Preempted: return "preempted";
    case RequestState::Finished: return "finished";
    case RequestState::Cancelled: return "cancelled";
    case RequestState::Failed: return "failed";
  }
  return "?";
}

const char* to_string(FinishReason r) {
  switch (r) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Cancelled: return "cancelled";
    case FinishReason::Error: return "error";
  }
  return "?";
}

namespace {

double seconds(EngineClock::duration d) { return std::chrono::duration<double>(d).count(); }

bool contains(const std::vector<int32_t>& v, int32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// log p(token) under softmax(row) and the n most likely tokens, from the raw logits.
TokenInfo token_info(int32_t token, const float* row, int64_t vocab, int32_t top_n) {
  TokenInfo info;
  info.id = token;
  if (top_n < 0) return info;
  float mx = *std::max_element(row, row + vocab);
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(row[i] - mx));
  const double lse = mx + std::log(sum);
  info.logprob = static_cast<float>(row[token] - lse);
  if (top_n > 0) {
    std::vector<int32_t> ids(vocab);
    std::iota(ids.begin(), ids.end(), 0);
    const int64_t n = std::min<int64_t>(top_n, vocab);
    std::partial_sort(ids.begin(), ids.begin() + n, ids.end(), [&](int32_t a, int32_t b) {
      return row[a] != row[b] ? row[a] > row[b] : a < b;
    });
    for (int64_t i = 0; i < n; ++i) info.top.push_back({ids[i], static_cast<float>(row[ids[i]] - lse)});
  }
  return info;
}

}  // namespace

Engine::Engine(Model& model, const Tokenizer* tokenizer, EngineConfig config)
    : model_(model), tok_(tokenizer), cfg_(config) {
  const ModelConfig& mc = model_.config();
  if (cfg_.max_step_tokens <= 0) fail("--max-step-tokens {} must be positive", cfg_.max_step_tokens);
  if (cfg_.max_num_seqs <= 0) fail("--max-num-seqs {} must be positive", cfg_.max_num_seqs);
  if (cfg_.max_model_len <= 0) cfg_.max_model_len = mc.max_position_embeddings > 0 ? mc.max_position_embeddings : 4096;
  if (mc.max_position_embeddings > 0 && cfg_.max_model_len > mc.max_position_embeddings)
    fail("--max-model-len {} exceeds the model's context of {} tokens", cfg_.max_model_len, mc.max_position_embeddings);
  if (cfg_.num_kv_blocks <= 0) {
    KvPoolPlan p = plan_kv_pool(model_.kv_shape(), cfg_.block_size, cfg_.kv_memory_bytes,
                                model_.backend().default_kv_budget(), cfg_.max_num_seqs, cfg_.max_model_len,
                                cfg_.kv_type);
    cfg_.num_kv_blocks = p.num_blocks;
    kv_explanation_ = p.explanation;
  } else {
    kv_explanation_ = fmt::format("KV cache: {} blocks of {} tokens, {} (--kv-blocks)", cfg_.num_kv_blocks,
                                  cfg_.block_size, kv_type_name(cfg_.kv_type));
  }
  // Hybrid models: a recurrent state per running sequence beside the paged K/V. A cached prefix
  // block holds K/V but not the state at its end, so prefix reuse is off for them.
  recurrent_ = model_.kv_shape().state_floats > 0;
  if (recurrent_) {
    cfg_.prefix_caching = false;
    for (int64_t i = cfg_.max_num_seqs - 1; i >= 0; --i) free_state_slots_.push_back(static_cast<int32_t>(i));
    kv_explanation_ += fmt::format("; recurrent state: {} slots of {:.1f} MiB (prefix caching off)", cfg_.max_num_seqs,
                                   model_.kv_shape().state_floats * 4.0 / (1 << 20));
  }
  kv_ = std::make_unique<KvCache>(model_.backend(), model_.kv_shape(), cfg_.num_kv_blocks, cfg_.block_size,
                                  cfg_.kv_type, recurrent_ ? cfg_.max_num_seqs : 0);
  step_ = StepInput(static_cast<int32_t>(cfg_.block_size));
  blocks_ = std::make_unique<BlockManager>(cfg_.num_kv_blocks, cfg_.block_size, cfg_.prefix_caching);
  sched_.block_size = cfg_.block_size;
  sched_.num_blocks = cfg_.num_kv_blocks;
  sched_.max_step_tokens = cfg_.max_step_tokens;
  sched_.max_num_seqs = cfg_.max_num_seqs;
  sched_.max_model_len = cfg_.max_model_len;
  // Blocks fall out of every window only when every layer slides (Mistral); one full-attention
  // layer (Gemma, gpt-oss) keeps them all alive.
  const std::vector<int64_t> windows = mc.layer_windows();
  if (!windows.empty() && std::all_of(windows.begin(), windows.end(), [](int64_t w) { return w > 0; }))
    sched_.kv_window = *std::max_element(windows.begin(), windows.end());
  for (int64_t id : mc.eos_token_ids) default_eos_.push_back(static_cast<int32_t>(id));
  if (tok_)
    for (int32_t id : tok_->eos_ids())
      if (!contains(default_eos_, id)) default_eos_.push_back(id);
  counters_.kv_blocks_total = cfg_.num_kv_blocks;
  counters_.kv_block_size = cfg_.block_size;
  publish_metrics();
}

Engine::~Engine() { stop(); }

int64_t Engine::sequence_capacity() const { return ax::sequence_capacity(sched_); }

RequestHandle Engine::submit(Request r) {
  const int64_t vocab = model_.config().vocab_size;
  if (r.prompt.empty()) fail("request: the prompt has no tokens");
  for (int32_t t : r.prompt)
    if (t < 0 || t >= vocab) fail("request: prompt token {} is outside the vocabulary of {}", t, vocab);
  if (r.stop.max_tokens < 1) fail("request: max_tokens {} must be at least 1", r.stop.max_tokens);
  if (!r.stop.stop_strings.empty() && !tok_)
    fail("request: stop strings need a tokenizer to decode text, and this engine has none");
  if (r.top_logprobs > 20) fail("request: top_logprobs {} must be at most 20", r.top_logprobs);
  validate(r.sampling, vocab);
  const int64_t capacity = sequence_capacity();
  const int64_t n = static_cast<int64_t>(r.prompt.size());
  if (n + 1 > capacity)
    fail("request: the prompt has {} tokens but a sequence can hold at most {} (model context {}, "
         "KV cache {} tokens); shorten the prompt or enlarge the KV cache",
         n, capacity - 1, cfg_.max_model_len, cfg_.num_kv_blocks * cfg_.block_size);
  if (r.stop.eos_ids.empty()) r.stop.eos_ids = default_eos_;

  const uint64_t id = next_id_++;
  auto seq = std::make_unique<Sequence>(id, std::move(r), vocab, tok_, capacity);
  RequestHandle h{id, seq->events};
  {
    std::lock_guard<std::mutex> lock(in_mu_);
    if (stopping_) fail("request: the engine is shutting down");
    pending_.push_back(std::move(seq));
    ++submitted_;
  }
  in_cv_.notify_all();
  return h;
}

void Engine::cancel(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(in_mu_);
    cancels_.push_back(id);
  }
  in_cv_.notify_all();
}

void Engine::drain_inbox() {
  std::vector<std::unique_ptr<Sequence>> incoming;
  std::vector<uint64_t> cancels;
  {
    std::lock_guard<std::mutex> lock(in_mu_);
    incoming.swap(pending_);
    cancels.swap(cancels_);
    counters_.requests_submitted = submitted_;
  }
  for (auto& s : incoming) seqs_.emplace(s->id, std::move(s));
  for (uint64_t id : cancels) {
    auto it = seqs_.find(id);
    if (it == seqs_.end()) continue;
    finish(*it->second, FinishReason::Cancelled, {});
  }
  for (uint64_t id : finished_now_) seqs_.erase(id);
  finished_now_.clear();
}

// Speculative decoding: each decoding sequence may bring draft tokens; its rows are then scheduled
// as [last, d1..dk] and verified in process_rows. A draft never runs past max_tokens: with all of
// it accepted plus the bonus token the sequence reaches at most max_total.
void Engine::propose_drafts() {
  // Sequences decoding in this step share its time: the per-step row budget and the measured cost
  // of one more row depend on how many there are, so drafting backs off as the batch fills.
  int64_t decoding = 0;
  for (const auto& [id, sp] : seqs_)
    if (sp->state == RequestState::Running && sp->num_computed == sp->num_tokens() - 1) ++decoding;
  const int64_t batch_cap = batch_draft_cap(cfg_.speculation, decoding);
  const double row_cost = step_cost_.row_cost(decoding), jump_cost = step_cost_.jump_cost(decoding);
  for (auto& [id, sp] : seqs_) {
    Sequence& s = *sp;
    s.draft.clear();
    if (s.state != RequestState::Running || s.num_computed != s.num_tokens() - 1) continue;
    if (!s.request.speculation.enabled || s.request.logits_processor) continue;
    const int64_t cap = std::min<int64_t>(s.request.speculation.max_draft, s.max_total - s.num_tokens() - 1);
    if (cap <= 0) continue;
    if (drafter_) s.draft = drafter_(s.id, s.tokens, static_cast<int>(cap));
    else s.draft = s.spec.propose(static_cast<int>(std::min(cap, batch_cap)), row_cost, jump_cost);
    if (static_cast<int64_t>(s.draft.size()) > cap) s.draft.resize(cap);
    const int64_t vocab = model_.config().vocab_size;
    for (int32_t t : s.draft)
      if (t < 0 || t >= vocab) fail("engine: the drafter proposed token {} outside the vocabulary of {}", t, vocab);
  }
}

SchedulerState Engine::snapshot() const {
  SchedulerState st;
  st.config = sched_;
  st.free_blocks = blocks_->num_free();
  st.ref_counts = blocks_->ref_counts();
  for (const auto& [id, sp] : seqs_) {
    const Sequence& s = *sp;
    SchedSeq q;
    q.id = static_cast<int64_t>(s.id);
    q.arrival = static_cast<int64_t>(s.id);  // ids are handed out in submission order
    q.num_tokens = s.num_tokens();
    if (blocks_->prefix_caching() && q.num_tokens > sched_.block_size)
      q.prefix_key = chain_block_key(kRootBlockKey, std::span(s.tokens).first(sched_.block_size));
    if (s.state == RequestState::Running) {
      q.num_computed = s.num_computed;
      q.blocks = blocks_->table(s.id);
      q.num_blocks = static_cast<int64_t>(q.blocks.size());
      q.decode_tokens = 1 + static_cast<int64_t>(s.draft.size());
      st.running.push_back(q);
    } else if (s.state == RequestState::Waiting || s.state == RequestState::Preempted) {
      // Admission is first come, first served and takes at most max_num_seqs sequences, so the
      // queue beyond that (in id = arrival order) cannot be admitted this step: skip its prefix
      // lookups. Those requests were validated at submit, so none is waiting to be rejected.
      if (static_cast<int64_t>(st.waiting.size()) >= sched_.max_num_seqs) continue;
      // The last token is always computed: its logits pick the next token.
      PrefixMatch m = blocks_->match(std::span(s.tokens).first(s.tokens.size() - 1));
      q.cached_tokens = m.num_tokens;
      q.cached_free_blocks = m.num_free_blocks;
      st.waiting.push_back(q);
    }
  }
  return st;
}

bool Engine::step() {
  const auto t0 = EngineClock::now();
  drain_inbox();
  if (seqs_.empty()) {
    publish_metrics();
    return false;
  }
  propose_drafts();
  const StepPlan plan = ax::plan(snapshot());
  if (plan.empty()) {
    // Cannot happen with a consistent state (a lone request always fits); never spin on it.
    for (auto& [id, s] : seqs_)
      finish(*s, FinishReason::Error, {}, "engine: the scheduler found nothing it could run");
    drain_inbox();
    publish_metrics();
    return false;
  }

  for (int64_t id : plan.preempted) {
    Sequence& s = *seqs_.at(id);
    release(s);
    s.state = RequestState::Preempted;
    s.num_computed = 0;
    ++s.preemptions;
    ++counters_.preemptions;
  }
  for (const Rejection& r : plan.rejected) finish(*seqs_.at(r.id), FinishReason::Error, {}, "request: " + r.reason);

  // Admissions take their cached prefix blocks before anything is allocated, so no allocation in
  // this step can evict a block the plan counted as a hit.
  const auto now = EngineClock::now();
  for (const ScheduledSeq& p : plan.scheduled) {
    if (p.kind != ScheduleKind::Admit) continue;
    Sequence& s = *seqs_.at(p.id);
    const int64_t cached = blocks_->admit(s.id, std::span(s.tokens).first(s.tokens.size() - 1));
    if (cached != p.start)
      fail("engine: sequence {} found {} cached tokens, the plan expected {}", s.id, cached, p.start);
    s.num_computed = cached;
    s.state = RequestState::Running;
    if (recurrent_) {  // admissions never exceed max_num_seqs running sequences: a slot is free
      if (free_state_slots_.empty()) fail("engine: no recurrent-state slot is free for sequence {}", s.id);
      s.state_slot = free_state_slots_.back();
      free_state_slots_.pop_back();
    }
    if (!s.was_scheduled) {
      s.was_scheduled = true;
      s.first_scheduled = now;
      s.cached_tokens = std::min(cached, s.num_prompt);
      counters_.prompt_tokens += s.num_prompt;
      counters_.prefix_cached_tokens += s.cached_tokens;
    }
  }

  // One step: each scheduled sequence's rows in plan order. Rows past the known tokens are draft
  // tokens. Logits are needed from the last known token on.
  step_.clear();
  struct RowSpan {
    Sequence* seq;
    int64_t start, num_rows, first_logit, num_logits;
  };
  std::vector<RowSpan> spans;
  std::vector<int32_t> rows;
  for (const ScheduledSeq& p : plan.scheduled) {
    Sequence& s = *seqs_.at(p.id);
    blocks_->grow(s.id, p.start + p.num_tokens);
    rows.clear();
    for (int64_t pos = p.start; pos < p.start + p.num_tokens; ++pos)
      rows.push_back(pos < s.num_tokens() ? s.tokens[pos] : s.draft.at(pos - s.num_tokens()));
    const int64_t offset = step_.add_sequence(rows, p.start, blocks_->table(s.id), s.state_slot);
    // A verify step changes a recurrent state for every draft token: keep the state before it, to
    // return to if some drafts are rejected (process_rows).
    if (recurrent_ && p.start + p.num_tokens > s.num_tokens()) kv_->save_state(s.state_slot);
    RowSpan span{&s, p.start, p.num_tokens, step_.num_logit_rows(), 0};
    for (int64_t pos = std::max(p.start, s.num_tokens() - 1); pos < p.start + p.num_tokens; ++pos) {
      step_.add_logit_row(offset + (pos - p.start));
      ++span.num_logits;
    }
    spans.push_back(span);
  }

  // Held until the last logits row is sampled: another thread's pass (embeddings) would
  // overwrite the rows being read.
  std::unique_lock pass(model_.pass_mutex());
  std::span<const float> logits;
  try {
    const auto t_forward = EngineClock::now();
    if (step_.num_tokens() > 0) logits = model_.backend().to_host(model_.forward(step_, *kv_));
    // Decode-only steps teach the speculation gate what a row costs (prefill chunks would skew
    // the fit towards their own, cheaper-per-row regime).
    if (std::all_of(plan.scheduled.begin(), plan.scheduled.end(),
                    [](const ScheduledSeq& p) { return p.kind == ScheduleKind::Decode; }))
      step_cost_.record(step_.num_tokens(), seconds(EngineClock::now() - t_forward));
  } catch (const std::exception& e) {
    for (const RowSpan& sp : spans) finish(*sp.seq, FinishReason::Error, {}, fmt::format("model forward failed: {}", e.what()));
    drain_inbox();
    publish_metrics();
    return true;
  }

  const int64_t vocab = model_.config().vocab_size;
  for (const RowSpan& sp : spans) {
    Sequence& s = *sp.seq;
    if (sp.num_logits == 0) {  // a prefill chunk that does not reach the last token yet
      s.num_computed = sp.start + sp.num_rows;
      blocks_->commit(s.id, std::span(s.tokens).first(s.num_computed));
      drop_dead_blocks(s);
      continue;
    }
    try {
      process_rows(s, sp.start, sp.num_rows, logits.data() + sp.first_logit * vocab);
    } catch (const std::exception& e) {
      // Sampling, a logits processor or a drafter failed for this request: it alone fails.
      finish(s, FinishReason::Error, {}, fmt::format("generating the next token failed: {}", e.what()));
    }
  }
  pass.unlock();

  counters_.steps += 1;
  counters_.computed_tokens += plan.num_tokens;
  counters_.last_step_tokens = plan.num_tokens;
  counters_.last_step_decode_rows = counters_.last_step_prefill_rows = 0;
  for (const ScheduledSeq& p : plan.scheduled)
    (p.kind == ScheduleKind::Decode ? counters_.last_step_decode_rows : counters_.last_step_prefill_rows) += p.num_tokens;
  counters_.last_step_sequences = static_cast<int64_t>(plan.scheduled.size());
  counters_.last_step_s = seconds(EngineClock::now() - t0);
  counters_.step_seconds_total += counters_.last_step_s;
  drain_inbox();  // erases the sequences that finished in this step
  publish_metrics();
  return true;
}

// rows: [1 + k, vocab] logits from the row of the last known token on; k = draft tokens granted.
void Engine::process_rows(Sequence& s, int64_t start, int64_t num_rows, const float* rows) {
  const int64_t vocab = model_.config().vocab_size;
  const int64_t last = s.num_tokens() - 1;  // position of the row that samples the next token
  const int64_t k = start + num_rows - 1 - last;
  std::span<const int32_t> draft(s.draft.data(), static_cast<size_t>(k));

  // verify_draft asks for the model's pick at each row in order; the sampler must have accepted
  // the tokens produced before that row (penalties), and draws from its RNG exactly as plain
  // decoding would. With no draft this is one plain sample.
  size_t fed = 0;
  LogitsProcessor* processor = s.request.logits_processor.get();
  std::vector<float> constrained;  // the row after the request's logits processor, if it has one
  auto pick = [&](int row, std::span<const int32_t> produced) {
    for (; fed < produced.size(); ++fed) s.sampler.accept(produced[fed]);
    const float* logits = rows + static_cast<int64_t>(row) * vocab;
    if (processor) {
      constrained.assign(logits, logits + vocab);
      processor->process(constrained.data(), vocab);
      logits = constrained.data();
    }
    return s.sampler.sample(logits);
  };
  VerifyOutcome out = verify_draft(draft, pick);
  for (; fed < out.emitted.size(); ++fed) s.sampler.accept(out.emitted[fed]);
  s.spec.verified(static_cast<int>(k), out.accepted);
  counters_.speculation += s.spec.take_unreported();

  const auto now = EngineClock::now();
  if (!s.has_token) {
    s.has_token = true;
    s.first_token = now;
  }
  Event ev;
  ev.kind = EventKind::Token;
  bool done = false;
  FinishReason reason = FinishReason::Stop;
  std::string stop_what;
  for (size_t j = 0; j < out.emitted.size() && !done; ++j) {
    const int32_t t = out.emitted[j];
    s.tokens.push_back(t);
    s.spec.append(t);
    if (processor) processor->accept(t);
    ++counters_.generated_tokens;
    ev.tokens.push_back(token_info(t, rows + static_cast<int64_t>(j) * vocab, vocab, s.request.top_logprobs));
    if (!s.request.stop.ignore_eos && contains(s.request.stop.eos_ids, t)) {
      done = true;
      stop_what = tok_ ? tok_->token_bytes(t) : fmt::format("{}", t);
      break;
    }
    if (contains(s.request.stop.stop_token_ids, t)) {
      done = true;
      stop_what = tok_ ? tok_->token_bytes(t) : fmt::format("{}", t);
      break;
    }
    if (s.decoder) {
      const std::string piece = s.decoder->push(t);
      ev.text += s.stop.empty() ? piece : s.stop.push(piece);
      if (s.stop.matched()) {
        done = true;
        stop_what = s.stop.matched_stop();
        break;
      }
    }
    if (s.generated() >= s.request.stop.max_tokens || s.num_tokens() >= s.max_total) {
      done = true;
      reason = FinishReason::Length;
    }
  }
  if (done && s.decoder && !s.stop.matched()) {
    // Whatever text is still held (an incomplete character, a possible stop-string start) is final.
    const std::string rest = s.decoder->flush();
    ev.text += s.stop.empty() ? rest : s.stop.push(rest);
    if (s.stop.matched()) stop_what = s.stop.matched_stop(), reason = FinishReason::Stop;
    else ev.text += s.stop.flush();
  }
  s.events->push(std::move(ev));

  // K/V is valid for the last token and the accepted drafts; the rejected drafts' rows are rolled
  // back (O(1): the table gets shorter), and newly full blocks join the prefix cache.
  // A finishing sequence commits too: its prompt's blocks stay cached for the next request (the
  // next turn of a chat, the same system prompt) after it releases them.
  s.num_computed = last + 1 + out.accepted;
  if (recurrent_ && out.accepted < k) {
    // The state went through the rejected drafts too and cannot be cut back: return to the state
    // before this step, and the next step computes `last` and the accepted drafts again (with the
    // new token; K/V rows are rewritten with the same values).
    kv_->restore_state(s.state_slot);
    s.num_computed = last;
  }
  blocks_->truncate(s.id, s.num_computed);
  blocks_->commit(s.id, std::span(s.tokens).first(std::min(s.num_computed, s.num_tokens())));
  if (done) finish(s, reason, std::move(stop_what));
  else drop_dead_blocks(s);
}

void Engine::drop_dead_blocks(Sequence& s) {
  if (const int64_t dead = dead_blocks(sched_, s.num_computed); dead > 0)
    blocks_->drop_before(s.id, dead * sched_.block_size);
}

void Engine::release(Sequence& s) {
  blocks_->release(s.id);
  if (s.state_slot >= 0) free_state_slots_.push_back(s.state_slot);
  s.state_slot = -1;
}

void Engine::finish(Sequence& s, FinishReason reason, std::string stop, std::string error) {
  if (s.state == RequestState::Finished || s.state == RequestState::Cancelled || s.state == RequestState::Failed)
    return;
  release(s);
  const auto now = EngineClock::now();
  Event ev;
  ev.kind = EventKind::Finish;
  ev.reason = reason;
  ev.stop = std::move(stop);
  ev.error = std::move(error);
  RequestMetrics& m = ev.metrics;
  m.prompt_tokens = s.num_prompt;
  m.completion_tokens = s.generated();
  m.cached_tokens = s.cached_tokens;
  m.preemptions = s.preemptions;
  m.total_s = seconds(now - s.submitted);
  if (s.was_scheduled) m.queue_s = seconds(s.first_scheduled - s.submitted);
  if (s.has_token) {
    m.ttft_s = seconds(s.first_token - s.submitted);
    const double decode_s = seconds(now - s.first_token);
    if (m.completion_tokens > 1 && decode_s > 0) m.decode_tokens_per_s = (m.completion_tokens - 1) / decode_s;
  }
  switch (reason) {
    case FinishReason::Stop:
    case FinishReason::Length:
      s.state = RequestState::Finished;
      ++counters_.requests_finished;
      break;
    case FinishReason::Cancelled:
      s.state = RequestState::Cancelled;
      ++counters_.requests_cancelled;
      break;
    case FinishReason::Error:
      s.state = RequestState::Failed;
      ++counters_.requests_failed;
      break;
  }
  s.events->push(std::move(ev));
  finished_now_.push_back(s.id);
}

void Engine::publish_metrics() {
  EngineMetrics m = counters_;
  m.running = m.waiting = 0;
  for (const auto& [id, s] : seqs_) {
    if (s->state == RequestState::Running) ++m.running;
    else if (s->state == RequestState::Waiting || s->state == RequestState::Preempted) ++m.waiting;
  }
  {
    std::lock_guard<std::mutex> lock(in_mu_);
    m.waiting += static_cast<int64_t>(pending_.size());
    m.requests_submitted = submitted_;
  }
  m.kv_blocks_used = blocks_->num_used();
  m.kv_blocks_free = blocks_->num_free();
  m.kv_blocks_cached = blocks_->num_cached();
  m.prefix_evictions = blocks_->num_evictions();
  std::lock_guard<std::mutex> lock(metrics_mu_);
  snapshot_ = m;
}

EngineMetrics Engine::metrics() const {
  std::lock_guard<std::mutex> lock(metrics_mu_);
  return snapshot_;
}

void Engine::start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(in_mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] {
    bool busy = false;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(in_mu_);
        in_cv_.wait(lock, [&] { return stopping_ || busy || !pending_.empty() || !cancels_.empty(); });
        if (stopping_) return;
      }
      try {
        busy = step();
      } catch (const std::exception& e) {
        // An engine bug must not take the process down: fail what is live and carry on.
        for (auto& [id, s] : seqs_) finish(*s, FinishReason::Error, {}, fmt::format("engine error: {}", e.what()));
        for (uint64_t id : finished_now_) seqs_.erase(id);
        finished_now_.clear();
        busy = false;
      }
    }
  });
}

void Engine::stop() {
  {
    std::lock_guard<std::mutex> lock(in_mu_);
    stopping_ = true;
  }
  in_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Nobody will step again: tell whoever is still waiting.
  std::vector<std::unique_ptr<Sequence>> pending;
  {
    std::lock_guard<std::mutex> lock(in_mu_);
    pending.swap(pending_);
  }
  for (auto& s : pending) seqs_.emplace(s->id, std::move(s));
  for (auto& [id, s] : seqs_) finish(*s, FinishReason::Error, {}, "engine: stopped before the request finished");
  seqs_.clear();
  finished_now_.clear();
}

}  // namespace ax
