#pragma once
// The engine: continuous batching over one model. One thread owns it and runs step(); front ends
// call submit() and cancel() from any thread and read each request's events from its channel.
//
// One step:
//   drain the inbox (new requests, cancellations)
//   -> plan (pure scheduler, engine/scheduler.h) over a snapshot of the sequences and KV blocks
//   -> apply it: preempt, reject, admit (take cached prefix blocks), grow block tables
//   -> build one StepInput (every scheduled sequence's rows: decode tokens, draft tokens, prefill chunks)
//   -> Model::forward (logits only for rows that sample)
//   -> per sequence: sample with its own sampler/RNG (verify drafts), append tokens, roll back
//      rejected draft K/V, register full blocks in the prefix cache, check stop conditions, emit
//      events, release finished sequences' blocks.
//
// Batching never changes a request's output: each sequence samples from its own logits row with
// its own RNG, and the model computes each row independently of the others.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "engine/block_manager.h"
#include "engine/events.h"
#include "engine/metrics.h"
#include "engine/request.h"
#include "engine/scheduler.h"
#include "engine/spec_gate.h"
#include "backend/kv_cache.h"
#include "backend/step_input.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace ax {

struct Sequence;

// Proposes draft tokens for a decoding sequence (speculative decoding): given the request id, its
// tokens so far and the most draft tokens it may use, the tokens it guesses come next. Drafts are
// verified against the model, so a wrong guess costs time, never correctness.
using DraftFn = std::function<std::vector<int32_t>(uint64_t id, std::span<const int32_t> tokens, int max_draft)>;

struct EngineConfig {
  int64_t block_size = 16;         // tokens per KV block
  int64_t num_kv_blocks = 0;       // 0: sized from kv_memory_bytes
  int64_t kv_memory_bytes = 0;     // 0: a fraction of available memory (engine/kv_budget.h)
  int64_t max_num_seqs = 64;       // running sequences at most
  int64_t max_step_tokens = 512;   // rows per forward pass (decode + prefill chunks)
  int64_t max_model_len = 0;       // 0: the model's max_position_embeddings
  // Reuse cached prompt blocks across requests. Off, whatever is asked, for hybrid models (a
  // recurrent state cannot be resumed from a shared block): their prompts are computed in full.
  bool prefix_caching = true;
  // K/V element type: f16 (llama.cpp's default too) halves the cache's memory and the bytes
  // attention reads per token; f32 keeps K/V exactly as computed (backend/kv_cache.h).
  KvType kv_type = KvType::F16;
  SpecGateOptions speculation;     // when n-gram drafting pays (engine/spec_gate.h)
};

class Engine {
 public:
  // model (and tokenizer, if given) must outlive the engine. Without a tokenizer, events carry no
  // text and stop strings are refused.
  Engine(Model& model, const Tokenizer* tokenizer, EngineConfig config = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Thread-safe. Validates the request (throws ax::Error naming the field at fault) and queues it;
  // it joins the batch at the next step.
  RequestHandle submit(Request request);
  // Thread-safe. Honoured at the next step: the request's blocks are freed and it gets a Finish
  // event with reason Cancelled. Unknown or finished ids are ignored.
  void cancel(uint64_t id);

  // One step on the calling thread; false when there was nothing to do. Only one thread may step:
  // either call this yourself (tests, CLI, bench) or start() the engine thread, not both.
  bool step();
  void run_until_idle() {
    while (step()) {}
  }
  // Replaces the built-in n-gram drafter (engine/spec_sequence.h) for every decoding sequence
  // whose request enables speculation. Call before the first step.
  void set_drafter(DraftFn drafter) { drafter_ = std::move(drafter); }

  void start();  // the engine thread: steps while there is work, sleeps otherwise
  void stop();   // joins it; requests still live get a Finish event with reason Error

  EngineMetrics metrics() const;  // thread-safe snapshot
  const EngineConfig& config() const { return cfg_; }  // resolved: num_kv_blocks, max_model_len
  const std::string& kv_explanation() const { return kv_explanation_; }
  int64_t sequence_capacity() const;  // tokens one sequence can hold (prompt + generated)
  const BlockManager& blocks() const { return *blocks_; }  // engine thread only (tests)

 private:
  void drain_inbox();
  void propose_drafts();
  SchedulerState snapshot() const;
  void finish(Sequence& seq, FinishReason reason, std::string stop, std::string error = {});
  // Frees the sequence's blocks and its recurrent-state slot (hybrid models).
  void release(Sequence& seq);
  void process_rows(Sequence& seq, int64_t start, int64_t num_rows, const float* rows);
  // Releases the blocks that fell out of every sliding window (SchedulerConfig::kv_window).
  void drop_dead_blocks(Sequence& seq);
  void publish_metrics();

  Model& model_;
  const Tokenizer* tok_;
  EngineConfig cfg_;
  std::string kv_explanation_;
  std::unique_ptr<KvCache> kv_;
  std::unique_ptr<BlockManager> blocks_;
  // Hybrid models (KvShape::state_floats > 0): one recurrent-state slot per running sequence.
  bool recurrent_ = false;
  std::vector<int32_t> free_state_slots_;
  SchedulerConfig sched_;
  std::vector<int32_t> default_eos_;
  DraftFn drafter_;
  // Speculation: when drafting pays depends on what a verify row costs, measured on decode steps.
  StepCostModel step_cost_{cfg_.speculation};

  std::map<uint64_t, std::unique_ptr<Sequence>> seqs_;  // live: waiting, running, preempted
  std::vector<uint64_t> finished_now_;                   // erased at the end of the step

  // Inbox, shared with submitting threads.
  std::mutex in_mu_;
  std::condition_variable in_cv_;
  std::vector<std::unique_ptr<Sequence>> pending_;
  std::vector<uint64_t> cancels_;
  bool stopping_ = false;
  std::atomic<uint64_t> next_id_{1};
  std::thread thread_;

  // Metrics: counters owned by the stepping thread, copied to the snapshot after each step.
  EngineMetrics counters_;
  int64_t submitted_ = 0;  // under in_mu_
  mutable std::mutex metrics_mu_;
  EngineMetrics snapshot_;

  StepInput step_;
};

}  // namespace ax
