#include "engine/scheduler.h"

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <unordered_set>

#include <fmt/core.h>

#include "util/error.h"

namespace ax {

static bool windows_free_blocks(const SchedulerConfig& c) {
  // The live part of a sequence (its window, one step's rows, a partly filled block on each side)
  // must fit the pool for windows to lift the pool's bound on a sequence's length.
  return c.kv_window > 0 && c.num_blocks * c.block_size >= c.kv_window + c.max_step_tokens + 2 * c.block_size;
}

int64_t dead_blocks(const SchedulerConfig& c, int64_t num_computed) {
  if (!windows_free_blocks(c)) return 0;
  return std::max<int64_t>(0, num_computed - c.kv_window + 1) / c.block_size;
}

int64_t sequence_capacity(const SchedulerConfig& c) {
  if (windows_free_blocks(c)) return c.max_model_len > 0 ? c.max_model_len : INT32_MAX;
  int64_t cap = c.num_blocks * c.block_size;
  if (c.max_model_len > 0) cap = std::min(cap, c.max_model_len);
  return cap;
}

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

bool by_arrival(const SchedSeq* a, const SchedSeq* b) {
  return a->arrival != b->arrival ? a->arrival < b->arrival : a->id < b->id;
}

// The planning pass over one snapshot: simulated free blocks, budget and preemptions.
class Planner {
 public:
  explicit Planner(const SchedulerState& s) : s_(s), cfg_(s.config) {
    if (cfg_.block_size <= 0) fail("scheduler: block_size must be positive, got {}", cfg_.block_size);
    if (cfg_.max_step_tokens <= 0)
      fail("scheduler: max_step_tokens must be positive, got {}", cfg_.max_step_tokens);
    free_ = s.free_blocks;
    budget_ = cfg_.max_step_tokens;
    for (const auto& r : s.running) running_.push_back(&r);
    for (const auto& w : s.waiting) waiting_.push_back(&w);
    std::sort(running_.begin(), running_.end(), by_arrival);
    std::sort(waiting_.begin(), waiting_.end(), by_arrival);
    state_.assign(running_.size(), Slot::Unscheduled);
  }

  StepPlan run() {
    for (size_t i = 0; i < running_.size(); ++i)
      if (remaining(i) == 1) ++decoders_left_;
    for (size_t i = 0; i < running_.size(); ++i) {
      if (remaining(i) != 1) continue;
      --decoders_left_;
      if (state_[i] == Slot::Unscheduled) decode(i);
    }
    for (size_t i = 0; i < running_.size(); ++i)
      if (state_[i] == Slot::Unscheduled && remaining(i) > 1) prefill(i);
    admit();
    plan_.blocks_used = s_.free_blocks - free_;
    return std::move(plan_);
  }

 private:
  enum class Slot { Unscheduled, Scheduled, Preempted };

  int64_t remaining(size_t i) const { return running_[i]->num_tokens - running_[i]->num_computed; }
  int64_t blocks_to_cover(size_t i, int64_t tokens) const {
    return std::max<int64_t>(0, ceil_div(tokens, cfg_.block_size) - running_[i]->num_blocks);
  }

  // Preempts the newest running sequence that is neither scheduled nor preempted, if it is newer
  // than `floor` (an index into running_); returns its index or -1.
  int64_t preempt_newest(size_t floor) {
    for (size_t j = running_.size(); j-- > floor;) {
      if (state_[j] != Slot::Unscheduled) continue;
      state_[j] = Slot::Preempted;
      plan_.preempted.push_back(running_[j]->id);
      for (int32_t b : running_[j]->blocks) {
        int32_t& dropped = released_[b];
        ++dropped;
        if (b >= 0 && static_cast<size_t>(b) < s_.ref_counts.size() && s_.ref_counts[b] - dropped == 0) ++free_;
      }
      return static_cast<int64_t>(j);
    }
    return -1;
  }

  void schedule(size_t i, ScheduleKind kind, int64_t n, int64_t blocks) {
    const SchedSeq& r = *running_[i];
    plan_.scheduled.push_back({r.id, kind, r.num_computed, n, blocks});
    plan_.num_tokens += n;
    budget_ -= n;
    free_ -= blocks;
    state_[i] = Slot::Scheduled;
  }

  void reject_running(size_t i, int64_t tokens) {
    // A lone sequence that outgrew the pool: the engine clamps max_tokens so this only happens
    // with a state built by hand, but never loop preempting it.
    state_[i] = Slot::Preempted;
    plan_.rejected.push_back({running_[i]->id,
        fmt::format("sequence needs {} tokens of KV cache but the pool holds {}", tokens,
                    sequence_capacity(cfg_))});
  }

  void decode(size_t i) {
    if (budget_ <= 0) return;
    const SchedSeq& r = *running_[i];
    // Draft rows only from budget the later decoders do not need for their one row each.
    int64_t n = std::clamp<int64_t>(r.decode_tokens, 1, std::max<int64_t>(1, budget_ - decoders_left_));
    // Drop drafts before preempting anyone, and never let them run past the capacity.
    if (blocks_to_cover(i, r.num_computed + n) > free_ || r.num_computed + n > sequence_capacity(cfg_)) n = 1;
    int64_t need = blocks_to_cover(i, r.num_computed + n);
    if (ceil_div(r.num_computed + n, cfg_.block_size) - dead_blocks(cfg_, r.num_computed) > cfg_.num_blocks)
      return reject_running(i, r.num_computed + n);
    while (need > free_) {
      int64_t victim = preempt_newest(i);
      if (victim < 0 || victim == static_cast<int64_t>(i)) return;
    }
    schedule(i, ScheduleKind::Decode, n, need);
  }

  void prefill(size_t i) {
    if (budget_ <= 0) return;
    const SchedSeq& r = *running_[i];
    if (r.num_tokens > sequence_capacity(cfg_)) return reject_running(i, r.num_tokens);
    int64_t want = std::min(remaining(i), budget_);
    auto fit = [&] {
      int64_t coverable = (r.num_blocks + free_) * cfg_.block_size - r.num_computed;
      return std::min(want, coverable);
    };
    // Preempt newer sequences only when this one could not move at all: a smaller chunk is
    // better than evicting someone.
    while (fit() <= 0) {
      if (preempt_newest(i + 1) < 0) return;
    }
    int64_t n = fit();
    schedule(i, ScheduleKind::Prefill, n, blocks_to_cover(i, r.num_computed + n));
  }

  void admit() {
    if (!plan_.preempted.empty()) return;
    int64_t slots = cfg_.max_num_seqs;
    for (size_t i = 0; i < running_.size(); ++i)
      if (state_[i] != Slot::Preempted) --slots;
    const int64_t capacity = sequence_capacity(cfg_);
    // First blocks being computed in this step or still to be computed by a running prefill.
    std::unordered_set<uint64_t> computing;
    for (size_t i = 0; i < running_.size(); ++i)
      if (state_[i] != Slot::Preempted && remaining(i) > 1 && running_[i]->prefix_key != 0)
        computing.insert(running_[i]->prefix_key);
    for (const SchedSeq* w : waiting_) {
      // +1: a sequence must fit its prompt and the first token it generates.
      if (w->num_tokens + 1 > capacity) {
        plan_.rejected.push_back({w->id,
            fmt::format("the prompt has {} tokens but a sequence can hold at most {} (KV cache "
                        "{} blocks of {} tokens, model context {}); shorten the prompt or enlarge "
                        "the KV cache", w->num_tokens, capacity - 1, cfg_.num_blocks,
                        cfg_.block_size, cfg_.max_model_len)});
        continue;
      }
      if (slots <= 0 || budget_ <= 0) break;
      if (w->prefix_key != 0 && computing.count(w->prefix_key)) continue;  // share, not recompute
      // Whole blocks only, and the last prompt token is always computed (its logits are needed).
      const int64_t cached =
          std::clamp<int64_t>(w->cached_tokens, 0, w->num_tokens - 1) / cfg_.block_size * cfg_.block_size;
      const int64_t cached_blocks = cached / cfg_.block_size;
      auto new_blocks = [&](int64_t upto) {
        return ceil_div(upto, cfg_.block_size) - cached_blocks + w->cached_free_blocks;
      };
      // First come, first served: the whole prompt must fit, or with sliding windows the part of
      // it that is alive at once.
      const int64_t horizon =
          dead_blocks(cfg_, w->num_tokens) > 0 ? std::min(w->num_tokens, cached + cfg_.kv_window + budget_) : w->num_tokens;
      if (new_blocks(horizon) > free_) break;
      const int64_t n = std::min(w->num_tokens - cached, budget_);
      const int64_t blocks = new_blocks(cached + n);
      plan_.scheduled.push_back({w->id, ScheduleKind::Admit, cached, n, blocks});
      if (w->prefix_key != 0) computing.insert(w->prefix_key);
      plan_.num_tokens += n;
      budget_ -= n;
      free_ -= blocks;
      --slots;
    }
  }

  const SchedulerState& s_;
  const SchedulerConfig& cfg_;
  std::vector<const SchedSeq*> running_, waiting_;
  std::vector<Slot> state_;
  std::unordered_map<int32_t, int32_t> released_;  // block -> references dropped by preemptions
  int64_t free_ = 0, budget_ = 0;
  int64_t decoders_left_ = 0;  // decoding sequences after the one being planned
  StepPlan plan_;
};

}  // namespace

StepPlan plan(const SchedulerState& state) { return Planner(state).run(); }

}  // namespace ax
