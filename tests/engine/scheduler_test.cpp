// The pure scheduler: policy cases by hand, then a property test that drives plan() with a real
// BlockManager through random arrivals, cancellations and finishes.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "engine/block_manager.h"
#include "engine/scheduler.h"

namespace ax {
namespace {

SchedSeq running_seq(int64_t id, int64_t arrival, int64_t tokens, int64_t computed, int64_t blocks,
                     int64_t decode_tokens = 1) {
  SchedSeq s;
  s.id = id;
  s.arrival = arrival;
  s.num_tokens = tokens;
  s.num_computed = computed;
  s.num_blocks = blocks;
  s.decode_tokens = decode_tokens;
  return s;
}

SchedSeq waiting_seq(int64_t id, int64_t arrival, int64_t tokens) {
  SchedSeq s;
  s.id = id;
  s.arrival = arrival;
  s.num_tokens = tokens;
  return s;
}

SchedulerConfig config(int64_t num_blocks, int64_t budget, int64_t block_size = 4, int64_t max_seqs = 16) {
  SchedulerConfig c;
  c.block_size = block_size;
  c.num_blocks = num_blocks;
  c.max_step_tokens = budget;
  c.max_num_seqs = max_seqs;
  return c;
}

const ScheduledSeq* find(const StepPlan& p, int64_t id) {
  for (const auto& s : p.scheduled)
    if (s.id == id) return &s;
  return nullptr;
}

TEST(Scheduler, DecodesFirstThenChunksPrefillIntoTheBudget) {
  SchedulerState st;
  st.config = config(100, 50);
  st.free_blocks = 60;
  std::vector<int32_t> refs(100, 1);
  st.ref_counts = refs;
  // C arrived first but is still prefilling: the decodes of A and B still go first.
  st.running = {running_seq(1, 5, 10, 9, 3), running_seq(2, 6, 20, 19, 5), running_seq(3, 1, 300, 40, 10)};
  StepPlan p = plan(st);
  ASSERT_EQ(p.scheduled.size(), 3u);
  EXPECT_EQ(p.scheduled[0].id, 1);
  EXPECT_EQ(p.scheduled[0].kind, ScheduleKind::Decode);
  EXPECT_EQ(p.scheduled[1].id, 2);
  EXPECT_EQ(p.scheduled[2].id, 3);
  EXPECT_EQ(p.scheduled[2].kind, ScheduleKind::Prefill);
  EXPECT_EQ(p.scheduled[2].start, 40);
  EXPECT_EQ(p.scheduled[2].num_tokens, 48);
  EXPECT_EQ(p.scheduled[2].new_blocks, 12);  // positions up to 88: 22 blocks, it has 10
  EXPECT_EQ(p.num_tokens, 50);
}

TEST(Scheduler, AdmitsInArrivalOrderAndStopsAtTheFirstThatDoesNotFit) {
  SchedulerState st;
  st.config = config(10, 1000);
  st.free_blocks = 10;
  // Shuffled input: the plan must not depend on it. id 7 and 3 tie on arrival: id order.
  st.waiting = {waiting_seq(9, 4, 8), waiting_seq(7, 2, 12), waiting_seq(3, 2, 12), waiting_seq(5, 3, 4)};
  StepPlan p = plan(st);
  // 3 (3 blocks), 7 (3 blocks), 5 (1 block), then 9 needs 2 of the 3 left: fits too.
  ASSERT_EQ(p.scheduled.size(), 4u);
  EXPECT_EQ(p.scheduled[0].id, 3);
  EXPECT_EQ(p.scheduled[1].id, 7);
  EXPECT_EQ(p.scheduled[2].id, 5);
  EXPECT_EQ(p.scheduled[3].id, 9);
  st.free_blocks = 6;
  p = plan(st);
  ASSERT_EQ(p.scheduled.size(), 2u);  // 3 and 7 take all six blocks
  st.free_blocks = 7;
  p = plan(st);
  ASSERT_EQ(p.scheduled.size(), 3u);  // 5 fits in the last block; 9 (2 blocks) does not
  EXPECT_EQ(p.scheduled[2].id, 5);
}

TEST(Scheduler, HeadOfLineBlocksLaterSmallerRequests) {
  SchedulerState st;
  st.config = config(20, 1000);
  st.free_blocks = 4;
  st.waiting = {waiting_seq(1, 0, 40), waiting_seq(2, 1, 4)};
  StepPlan p = plan(st);
  EXPECT_TRUE(p.scheduled.empty());  // first come, first served: 2 waits behind 1
}

TEST(Scheduler, ChunksALongPromptAndCountsCachedTokens) {
  SchedulerState st;
  st.config = config(100, 64);
  st.free_blocks = 100;
  SchedSeq w = waiting_seq(1, 0, 300);
  w.cached_tokens = 128;
  w.cached_free_blocks = 32;  // all its cached blocks sit on the free list
  st.waiting = {w};
  StepPlan p = plan(st);
  ASSERT_EQ(p.scheduled.size(), 1u);
  EXPECT_EQ(p.scheduled[0].kind, ScheduleKind::Admit);
  EXPECT_EQ(p.scheduled[0].start, 128);
  EXPECT_EQ(p.scheduled[0].num_tokens, 64);
  EXPECT_EQ(p.scheduled[0].new_blocks, 16 + 32);  // 48 blocks cover 192 positions
  EXPECT_EQ(p.blocks_used, 48);
}

TEST(Scheduler, AFullyCachedPromptStillComputesItsLastToken) {
  SchedulerState st;
  st.config = config(100, 64);
  st.free_blocks = 100;
  SchedSeq w = waiting_seq(1, 0, 32);
  w.cached_tokens = 32;  // a caller that forgot the cap: the plan caps it to whole blocks
  st.waiting = {w};
  StepPlan p = plan(st);
  ASSERT_EQ(p.scheduled.size(), 1u);
  EXPECT_EQ(p.scheduled[0].start, 28);
  EXPECT_EQ(p.scheduled[0].num_tokens, 4);
}

TEST(Scheduler, RespectsMaxNumSeqs) {
  SchedulerState st;
  st.config = config(100, 1000, 4, 3);
  st.free_blocks = 90;
  std::vector<int32_t> refs(100, 1);
  st.ref_counts = refs;
  st.running = {running_seq(1, 0, 5, 4, 2)};
  for (int i = 2; i < 8; ++i) st.waiting.push_back(waiting_seq(i, i, 5));
  StepPlan p = plan(st);
  EXPECT_EQ(p.scheduled.size(), 3u);  // 1 running + 2 admitted
}

TEST(Scheduler, PreemptsTheNewestWhenADecodeNeedsABlock) {
  SchedulerState st;
  st.config = config(6, 100);
  st.free_blocks = 0;
  // Blocks: seq 1 holds {0,1}, seq 2 holds {2,3} and shares block 0, seq 3 holds {4,5}.
  std::vector<int32_t> t1 = {0, 1}, t2 = {0, 2, 3}, t3 = {4, 5};
  std::vector<int32_t> refs = {2, 1, 1, 1, 1, 1};
  st.ref_counts = refs;
  SchedSeq a = running_seq(1, 0, 9, 8, 2), b = running_seq(2, 1, 13, 12, 3), c = running_seq(3, 2, 7, 6, 2);
  a.blocks = t1;
  b.blocks = t2;
  c.blocks = t3;
  st.running = {c, a, b};
  st.waiting = {waiting_seq(4, 3, 2)};
  StepPlan p = plan(st);
  // 1 needs a 3rd block: 3 (newest) is preempted, freeing 2. 2 needs a 4th block: takes one.
  // 3 is gone; no admission in a step that preempted.
  ASSERT_EQ(p.preempted, std::vector<int64_t>{3});
  ASSERT_EQ(p.scheduled.size(), 2u);
  EXPECT_EQ(p.scheduled[0].id, 1);
  EXPECT_EQ(p.scheduled[0].new_blocks, 1);
  EXPECT_EQ(p.scheduled[1].id, 2);
  EXPECT_EQ(p.scheduled[1].new_blocks, 1);
  EXPECT_EQ(p.blocks_used, 0);
}

TEST(Scheduler, SharedBlocksAreNotCountedAsFreedByPreemption) {
  SchedulerState st;
  st.config = config(4, 100);
  st.free_blocks = 0;
  std::vector<int32_t> t1 = {0, 1}, t2 = {0, 1, 2, 3};
  std::vector<int32_t> refs = {2, 2, 1, 1};
  st.ref_counts = refs;
  SchedSeq a = running_seq(1, 0, 9, 8, 2), b = running_seq(2, 1, 16, 15, 4);
  a.blocks = t1;
  b.blocks = t2;
  st.running = {a, b};
  // 1 needs a block: preempting 2 frees only blocks 2 and 3 (0 and 1 stay with 1).
  StepPlan p = plan(st);
  ASSERT_EQ(p.preempted, std::vector<int64_t>{2});
  ASSERT_EQ(p.scheduled.size(), 1u);
  EXPECT_EQ(p.blocks_used, -1);  // freed 2, used 1
}

TEST(Scheduler, TheNewestPreemptsItself) {
  SchedulerState st;
  st.config = config(4, 100);
  st.free_blocks = 0;
  std::vector<int32_t> t1 = {0, 1}, t2 = {2, 3};
  std::vector<int32_t> refs = {1, 1, 1, 1};
  st.ref_counts = refs;
  SchedSeq a = running_seq(1, 0, 6, 5, 2), b = running_seq(2, 1, 9, 8, 2);
  a.blocks = t1;
  b.blocks = t2;
  st.running = {a, b};
  StepPlan p = plan(st);
  ASSERT_EQ(p.preempted, std::vector<int64_t>{2});
  ASSERT_EQ(p.scheduled.size(), 1u);
  EXPECT_EQ(p.scheduled[0].id, 1);
}

TEST(Scheduler, DropsDraftsBeforePreempting) {
  SchedulerState st;
  st.config = config(10, 100);
  st.free_blocks = 1;
  std::vector<int32_t> refs(10, 1);
  st.ref_counts = refs;
  st.running = {running_seq(1, 0, 8, 7, 2, /*decode_tokens=*/9)};
  StepPlan p = plan(st);
  ASSERT_EQ(p.scheduled.size(), 1u);
  EXPECT_EQ(p.scheduled[0].num_tokens, 1);
  st.free_blocks = 3;
  p = plan(st);
  EXPECT_EQ(p.scheduled[0].num_tokens, 9);  // 7 + 9 = 16 positions: 4 blocks
  EXPECT_EQ(p.scheduled[0].new_blocks, 2);
  st.config.max_step_tokens = 5;
  p = plan(st);
  EXPECT_EQ(p.scheduled[0].num_tokens, 5);  // drafts cut to the budget
}

TEST(Scheduler, DraftsNeverStarveLaterDecodes) {
  SchedulerState st;
  st.config = config(100, 10);
  st.free_blocks = 100;
  std::vector<int32_t> refs(100, 1);
  st.ref_counts = refs;
  // Four decoders, the first two with 8 drafts each, a budget of 10 rows: every decoder gets its
  // row; drafts get what is left (10 - 3 = 7 rows for the first, then 10 - 7 - 2 = 1 for the second).
  st.running = {running_seq(1, 0, 5, 4, 2, 9), running_seq(2, 1, 5, 4, 2, 9), running_seq(3, 2, 5, 4, 2),
                running_seq(4, 3, 5, 4, 2)};
  StepPlan p = plan(st);
  ASSERT_EQ(p.scheduled.size(), 4u);
  EXPECT_EQ(p.scheduled[0].num_tokens, 7);
  EXPECT_EQ(p.scheduled[1].num_tokens, 1);
  EXPECT_EQ(p.scheduled[2].num_tokens, 1);
  EXPECT_EQ(p.scheduled[3].num_tokens, 1);
  EXPECT_EQ(p.num_tokens, 10);
}

TEST(Scheduler, AWaitingPromptWaitsForTheSamePrefixBeingComputed) {
  SchedulerState st;
  st.config = config(100, 1000);
  st.free_blocks = 90;
  std::vector<int32_t> refs(100, 1);
  st.ref_counts = refs;
  SchedSeq prefilling = running_seq(1, 0, 200, 64, 16);
  prefilling.prefix_key = 7;
  st.running = {prefilling};
  SchedSeq same = waiting_seq(2, 1, 100), other = waiting_seq(3, 2, 20), twin = waiting_seq(4, 3, 30),
           twin2 = waiting_seq(5, 4, 30);
  same.prefix_key = 7;
  twin.prefix_key = 9;
  twin2.prefix_key = 9;
  st.waiting = {same, other, twin, twin2};
  StepPlan p = plan(st);
  // 2 waits for 1's prompt blocks; 3 and 4 are admitted; 5 waits for 4's.
  ASSERT_EQ(p.scheduled.size(), 3u);
  EXPECT_EQ(p.scheduled[0].id, 1);
  EXPECT_EQ(p.scheduled[1].id, 3);
  EXPECT_EQ(p.scheduled[2].id, 4);
  // Once 1 decodes (its prompt done), 2 is admitted.
  st.running[0].num_computed = 199;
  p = plan(st);
  EXPECT_NE(find(p, 2), nullptr);
}

TEST(Scheduler, RejectsWhatCanNeverFit) {
  SchedulerState st;
  st.config = config(4, 100);
  st.config.max_model_len = 12;
  st.free_blocks = 4;
  st.waiting = {waiting_seq(1, 0, 12), waiting_seq(2, 1, 11)};
  StepPlan p = plan(st);
  ASSERT_EQ(p.rejected.size(), 1u);
  EXPECT_EQ(p.rejected[0].id, 1);
  EXPECT_NE(p.rejected[0].reason.find("12 tokens"), std::string::npos) << p.rejected[0].reason;
  ASSERT_EQ(p.scheduled.size(), 1u);
  EXPECT_EQ(p.scheduled[0].id, 2);
}

TEST(Scheduler, PrefillPreemptsNewerPrefillsOnlyWhenStuck) {
  SchedulerState st;
  st.config = config(4, 100);
  st.free_blocks = 0;
  std::vector<int32_t> t1 = {0, 1}, t2 = {2, 3};
  std::vector<int32_t> refs = {1, 1, 1, 1};
  st.ref_counts = refs;
  SchedSeq a = running_seq(1, 0, 14, 8, 2), b = running_seq(2, 1, 14, 8, 2);
  a.blocks = t1;
  b.blocks = t2;
  st.running = {b, a};
  StepPlan p = plan(st);
  ASSERT_EQ(p.preempted, std::vector<int64_t>{2});
  ASSERT_EQ(p.scheduled.size(), 1u);
  EXPECT_EQ(p.scheduled[0].id, 1);
  EXPECT_EQ(p.scheduled[0].num_tokens, 6);
  // With one free block, 1 takes a partial chunk and nobody is preempted.
  st.free_blocks = 1;
  p = plan(st);
  EXPECT_TRUE(p.preempted.empty());
  ASSERT_EQ(p.scheduled.size(), 1u);  // 2 is stuck this step but keeps its blocks
  EXPECT_EQ(p.scheduled[0].num_tokens, 4);
}

// Drives plan() with a BlockManager as the engine does (minus the model): each step applies
// preemptions, admissions, growth and commits, then samples a "token" per finished chunk; random
// arrivals, cancellations and stop tokens. Checks after every step: the plan's blocks exist, the
// budget holds, nothing leaks, every request ends, preempted ones resume where they were.
TEST(Scheduler, PropertyRandomWorkloadsRunToCompletionWithoutLeaks) {
  uint32_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  for (int round = 0; round < 200; ++round) {
    SchedulerConfig cfg = config(6 + rng() % 40, 4 + rng() % 64, 1 + rng() % 8, 1 + rng() % 12);
    cfg.max_model_len = rng() % 2 ? 0 : 8 + rng() % 200;
    BlockManager bm(cfg.num_blocks, cfg.block_size, rng() % 4 != 0);
    const int64_t capacity = sequence_capacity(cfg);
    std::vector<int32_t> system_prompt(rng() % 20);
    for (auto& t : system_prompt) t = rng() % 100;

    struct Req {
      int64_t arrival;
      std::vector<int32_t> tokens;
      int64_t computed = 0;
      int64_t max_total;  // prompt + max_tokens, clamped to capacity as the engine does
      bool running = false, done = false;
      int64_t generated = 0;
    };
    std::map<int64_t, Req> reqs;
    int64_t next_id = 0, arrivals = 0;
    int steps = 0;
    int64_t submitted = 0, ended = 0;
    while (steps < 3000) {
      ++steps;
      // Arrivals.
      if (submitted < 40 && rng() % 3 == 0) {
        Req r;
        r.arrival = arrivals++;
        r.tokens = rng() % 2 ? system_prompt : std::vector<int32_t>{};
        for (int64_t n = 1 + rng() % 60; n > 0; --n) r.tokens.push_back(rng() % 100);
        r.max_total = std::min<int64_t>(capacity, r.tokens.size() + 1 + rng() % 30);
        reqs.emplace(next_id++, std::move(r));
        ++submitted;
      }
      // Random cancellation.
      if (!reqs.empty() && rng() % 20 == 0) {
        auto it = std::next(reqs.begin(), rng() % reqs.size());
        if (!it->second.done) {
          bm.release(it->first);
          it->second.done = true;
          ++ended;
        }
      }
      SchedulerState st;
      st.config = cfg;
      st.free_blocks = bm.num_free();
      st.ref_counts = bm.ref_counts();
      for (auto& [id, r] : reqs) {
        if (r.done) continue;
        SchedSeq s;
        s.id = id;
        s.arrival = r.arrival;
        s.num_tokens = static_cast<int64_t>(r.tokens.size());
        if (r.running) {
          s.num_computed = r.computed;
          s.num_blocks = static_cast<int64_t>(bm.table(id).size());
          s.blocks = bm.table(id);
          s.decode_tokens = 1 + rng() % 3;  // pretend drafts; extra rows are rolled back
          if (bm.prefix_caching() && static_cast<int64_t>(r.tokens.size()) > cfg.block_size)
            s.prefix_key = chain_block_key(kRootBlockKey, std::span(r.tokens).first(cfg.block_size));
          st.running.push_back(s);
        } else {
          if (bm.prefix_caching() && static_cast<int64_t>(r.tokens.size()) > cfg.block_size)
            s.prefix_key = chain_block_key(kRootBlockKey, std::span(r.tokens).first(cfg.block_size));
          PrefixMatch m = bm.match(std::span(r.tokens).first(r.tokens.size() - 1));
          s.cached_tokens = m.num_tokens;
          s.cached_free_blocks = m.num_free_blocks;
          st.waiting.push_back(s);
        }
      }
      if (st.running.empty() && st.waiting.empty()) {
        if (submitted >= 40) break;
        continue;
      }
      StepPlan p = plan(st);
      ASSERT_LE(p.num_tokens, cfg.max_step_tokens);
      ASSERT_LE(p.blocks_used, st.free_blocks);
      int64_t rows = 0;
      for (const auto& s : p.scheduled) rows += s.num_tokens;
      ASSERT_EQ(rows, p.num_tokens);
      for (int64_t id : p.preempted) {
        bm.release(id);
        reqs[id].running = false;
        reqs[id].computed = 0;
      }
      for (const auto& rj : p.rejected) {
        bm.release(rj.id);
        ASSERT_FALSE(reqs[rj.id].running) << "only waiting requests are rejected here";
        reqs[rj.id].done = true;
        ++ended;
      }
      // Admissions take their cached prefix before anything allocates (so hits are not evicted).
      for (const auto& s : p.scheduled) {
        if (s.kind != ScheduleKind::Admit) continue;
        Req& r = reqs[s.id];
        int64_t cached = bm.admit(s.id, std::span(r.tokens).first(r.tokens.size() - 1));
        ASSERT_EQ(cached, s.start) << "the prefix the plan counted on is still cached";
        r.computed = cached;
        r.running = true;
      }
      for (const auto& s : p.scheduled) {
        Req& r = reqs[s.id];
        ASSERT_EQ(s.start, r.computed);
        ASSERT_LE(bm.blocks_needed(s.id, r.computed + s.num_tokens), bm.num_free());
        bm.grow(s.id, r.computed + s.num_tokens);
      }
      for (const auto& s : p.scheduled) {
        Req& r = reqs[s.id];
        const int64_t known = static_cast<int64_t>(r.tokens.size());
        if (r.computed + s.num_tokens < known) {  // a prefill chunk that is not the last
          r.computed += s.num_tokens;
          bm.commit(s.id, std::span(r.tokens).first(r.computed));
          continue;
        }
        // Logits: sample, accept a random part of the draft rows, roll the rest back.
        int64_t rows = r.computed + s.num_tokens - (known - 1);
        int64_t keep = 1 + rng() % rows;
        keep = std::min<int64_t>(keep, r.max_total - known);
        keep = std::max<int64_t>(keep, 1);
        for (int64_t k = 0; k < keep; ++k) r.tokens.push_back(rng() % 100);
        r.computed = known - 1 + keep;
        bm.truncate(s.id, r.computed);
        bm.commit(s.id, std::span(r.tokens).first(r.computed));
        r.generated += keep;
        bool stop = rng() % 25 == 0 || static_cast<int64_t>(r.tokens.size()) >= r.max_total;
        if (stop) {
          bm.release(s.id);
          r.done = true;
          ++ended;
        }
      }
      bm.check_invariants();
      int64_t used = 0;
      std::vector<uint8_t> seen(cfg.num_blocks, 0);
      for (auto& [id, r] : reqs) {
        ASSERT_EQ(bm.has(id), r.running && !r.done) << "request " << id;
        if (bm.has(id))
          for (int32_t b : bm.table(id)) used += !seen[b]++;
      }
      ASSERT_EQ(used, bm.num_used());
    }
    ASSERT_EQ(ended, submitted) << "every request finished, was cancelled or was rejected";
    ASSERT_EQ(bm.num_free(), cfg.num_blocks);
    ASSERT_TRUE(bm.sequences().empty());
  }
}

}  // namespace
}  // namespace ax
