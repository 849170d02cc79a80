#pragma once
// The scheduler: a pure function from a snapshot of the engine to the plan of one step.
//
//   StepPlan plan(const SchedulerState&)
//
// No model, no block manager, no clocks: the engine copies what the decision needs into
// SchedulerState, so every policy below is unit-testable and the same state always gives the same
// plan. Order is deterministic: (arrival, id).
//
// Policy, in this order, under a per-step token budget and the free KV blocks:
//   1. Decode: every running sequence whose only uncomputed token is its last sampled one gets
//      its decode tokens (1, or 1 + k draft tokens for speculative decoding; drafts are dropped
//      first when blocks are short, and never take the budget later decoders need for their
//      one row each).
//   2. Prefill continuation: running sequences still computing their prompt (or recomputing after
//      preemption) get the next chunk, as much as the remaining budget allows (chunked prefill, so
//      a long prompt never stalls the decodes of others).
//   3. Admission: waiting sequences (new or preempted) join while sequence slots, budget and free
//      blocks last; admission needs blocks for the whole remaining prompt to be free now (so
//      admitted prompts do not thrash), but only the first chunk's blocks are allocated. No
//      admission in a step that had to preempt. First come first served: the first waiting
//      sequence that does not fit stops admission. A waiting sequence whose first block is being
//      computed right now by another (a running sequence still prefilling, or one admitted in
//      this step) waits for it: once those blocks are committed it takes them from the prefix
//      cache instead of computing the same prompt again (n choices of one request, bursts of
//      requests with one system prompt).
// When a running sequence needs blocks that are not free, the newest running sequence not yet
// scheduled in this step is preempted (its blocks are released; it will recompute later, mostly
// from the prefix cache) until the need is met; if the newest one is the needy sequence itself,
// it is preempted. A prefilling sequence preempts only when it could make no progress at all.
// A waiting sequence that could never fit (its tokens exceed the capacity) is rejected.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ax {

struct SchedulerConfig {
  int64_t block_size = 16;
  int64_t num_blocks = 0;         // the whole pool
  int64_t max_step_tokens = 512;  // token budget of one forward pass (decode + prefill rows)
  int64_t max_num_seqs = 64;      // running sequences at most
  int64_t max_model_len = 0;      // longest sequence (prompt + generated) the model accepts; 0: none
  // Every layer attends within a sliding window of at most kv_window keys (0: some layer sees
  // all): blocks wholly before the window of a sequence's next query are released as it moves
  // on, so a sequence holds about kv_window + step tokens of KV however long it grows.
  int64_t kv_window = 0;
};

// Blocks of a sequence that no future query can read: with num_computed tokens computed, the next
// query sits at position num_computed and sees keys from num_computed - kv_window + 1 on.
int64_t dead_blocks(const SchedulerConfig& c, int64_t num_computed);

// One sequence as the scheduler sees it.
struct SchedSeq {
  int64_t id = 0;
  int64_t arrival = 0;       // submission order; ties broken by id
  int64_t num_tokens = 0;    // tokens known: prompt + generated so far
  int64_t num_computed = 0;  // running: tokens whose K/V is in the cache (waiting: 0)
  int64_t num_blocks = 0;    // running: blocks in its table
  int64_t decode_tokens = 1;  // running, decoding: rows wanted this step (1 + draft tokens)
  // Waiting: what the prefix cache holds for it now (BlockManager::match on its tokens minus the
  // last one).
  int64_t cached_tokens = 0;
  int64_t cached_free_blocks = 0;
  // Running: its block table, to count exactly which blocks a preemption frees (shared blocks
  // stay in use).
  std::span<const int32_t> blocks;
  // The prefix-cache key of its first full block (0: none, or prefix caching off). Sequences with
  // the same key share at least that block of prompt.
  uint64_t prefix_key = 0;
};

struct SchedulerState {
  SchedulerConfig config;
  std::vector<SchedSeq> running;
  std::vector<SchedSeq> waiting;
  int64_t free_blocks = 0;
  std::span<const int32_t> ref_counts;  // per block, as BlockManager::ref_counts()
};

enum class ScheduleKind { Decode, Prefill, Admit };

struct ScheduledSeq {
  int64_t id = 0;
  ScheduleKind kind = ScheduleKind::Decode;
  int64_t start = 0;       // position of the first scheduled token (= num_computed, or the
                           // cached tokens for an admission)
  int64_t num_tokens = 0;  // rows in this step's batch
  int64_t new_blocks = 0;  // blocks the plan allocates for it (admission: including the free
                           // cached blocks its prefix hit takes)
};

struct Rejection {
  int64_t id = 0;
  std::string reason;
};

struct StepPlan {
  std::vector<ScheduledSeq> scheduled;  // decodes, then prefill chunks, then admissions
  std::vector<int64_t> preempted;       // running sequences to preempt before executing
  std::vector<Rejection> rejected;      // waiting sequences that can never run
  int64_t num_tokens = 0;               // total rows
  int64_t blocks_used = 0;              // free blocks the plan consumes (net of preemptions)
  bool empty() const { return scheduled.empty() && preempted.empty() && rejected.empty(); }
};

StepPlan plan(const SchedulerState& state);

// The longest sequence the pool and the model allow (tokens).
int64_t sequence_capacity(const SchedulerConfig& config);

}  // namespace ax
