// The engine loop over a mock model (tests/engine/mock_model.h): lifecycle, events, cancellation,
// threads, and the central property: a request's tokens are the same alone, batched with others,
// after preemption and recompute, with its prefix from the cache, and with speculative drafts.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "engine/engine.h"
#include "mock_model.h"
#include "util/error.h"

namespace ax {
namespace {

using test::MockModel;
using test::MockTokenizer;

struct Outcome {
  std::vector<int32_t> tokens;
  std::string text;
  FinishReason reason = FinishReason::Error;
  std::string stop, error;
  RequestMetrics metrics;
  int events = 0;
};

// Reads a request's events up to its Finish (which must already be queued when `wait` is false).
Outcome collect(const RequestHandle& h, bool wait = false) {
  Outcome o;
  for (;;) {
    std::optional<Event> e = wait ? std::optional<Event>(h.events->pop()) : h.events->try_pop();
    if (!e) {
      ADD_FAILURE() << "request " << h.id << " has no Finish event";
      return o;
    }
    ++o.events;
    if (e->kind == EventKind::Token) {
      for (const auto& t : e->tokens) o.tokens.push_back(t.id);
      o.text += e->text;
      continue;
    }
    o.reason = e->reason;
    o.stop = e->stop;
    o.error = e->error;
    o.metrics = e->metrics;
    return o;
  }
}

EngineConfig small_config(int64_t blocks, int64_t block_size = 4) {
  EngineConfig c;
  c.num_kv_blocks = blocks;
  c.block_size = block_size;
  c.max_step_tokens = 64;
  c.max_num_seqs = 8;
  return c;
}

Request greedy(std::vector<int32_t> prompt, int64_t max_tokens) {
  Request r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0;
  r.stop.max_tokens = max_tokens;
  return r;
}

TEST(Engine, SingleRequestStreamsTokensThenFinishesWithLength) {
  MockModel model;
  Engine engine(model, nullptr, small_config(64));
  RequestHandle h = engine.submit(greedy({3, 1, 4, 1, 5, 9, 2, 6}, 12));
  engine.run_until_idle();
  Outcome o = collect(h);
  EXPECT_EQ(o.reason, FinishReason::Length);
  EXPECT_EQ(o.tokens.size(), 12u);
  EXPECT_EQ(o.events, 13);  // one token per step, then Finish
  EXPECT_EQ(o.metrics.prompt_tokens, 8);
  EXPECT_EQ(o.metrics.completion_tokens, 12);
  EXPECT_GE(o.metrics.ttft_s, o.metrics.queue_s);
  EXPECT_EQ(model.calls, 12);  // one prefill step, then 11 decode steps
  EngineMetrics m = engine.metrics();
  EXPECT_EQ(m.kv_blocks_used, 0);
  EXPECT_EQ(m.requests_finished, 1);
  EXPECT_EQ(m.generated_tokens, 12);
  EXPECT_EQ(m.running + m.waiting, 0);
  engine.blocks().check_invariants();
}

TEST(Engine, StopsAtEosUnlessIgnored) {
  // Greedy from this prompt: find the first token the model produces, then declare it EOS.
  MockModel probe;
  Engine e0(probe, nullptr, small_config(64));
  RequestHandle h0 = e0.submit(greedy({7, 7, 7}, 5));
  e0.run_until_idle();
  std::vector<int32_t> free_run = collect(h0).tokens;
  ASSERT_EQ(free_run.size(), 5u);

  MockModel model(61, 4096, {free_run[2]});
  Engine engine(model, nullptr, small_config(64));
  RequestHandle h = engine.submit(greedy({7, 7, 7}, 5));
  Request ignoring = greedy({7, 7, 7}, 5);
  ignoring.stop.ignore_eos = true;
  RequestHandle h2 = engine.submit(ignoring);
  Request by_stop_token = greedy({7, 7, 7}, 5);
  by_stop_token.stop.eos_ids = {60};  // overrides the model's EOS
  by_stop_token.stop.stop_token_ids = {free_run[1]};
  RequestHandle h3 = engine.submit(by_stop_token);
  engine.run_until_idle();
  Outcome o = collect(h), o2 = collect(h2), o3 = collect(h3);
  EXPECT_EQ(o.reason, FinishReason::Stop);
  EXPECT_EQ(o.tokens, std::vector<int32_t>(free_run.begin(), free_run.begin() + 3));
  EXPECT_EQ(o2.reason, FinishReason::Length);
  EXPECT_EQ(o2.tokens, free_run);
  EXPECT_EQ(o3.reason, FinishReason::Stop);
  EXPECT_EQ(o3.tokens.size(), 2u);
}

TEST(Engine, StopStringsCutTheTextAcrossTokens) {
  MockModel probe;
  MockTokenizer tok(61, {});
  Engine e0(probe, &tok, small_config(64));
  RequestHandle h0 = e0.submit(greedy({1, 2, 3}, 20));
  e0.run_until_idle();
  Outcome free_run = collect(h0);
  ASSERT_EQ(free_run.text.size(), 20u);
  // A stop string spanning generated tokens 5..7: the text ends right before it.
  Request r = greedy({1, 2, 3}, 20);
  r.stop.stop_strings = {free_run.text.substr(5, 3)};
  RequestHandle h = e0.submit(r);
  e0.run_until_idle();
  Outcome o = collect(h);
  EXPECT_EQ(o.reason, FinishReason::Stop);
  const size_t first = free_run.text.find(r.stop.stop_strings[0]);
  EXPECT_EQ(o.text, free_run.text.substr(0, first));
  EXPECT_EQ(o.stop, r.stop.stop_strings[0]);
  EXPECT_EQ(o.tokens.size(), first + 3);  // tokens up to the one completing the stop string
}

TEST(Engine, RejectsRequestsThatCanNeverRun) {
  MockModel model(61, 64);
  Engine engine(model, nullptr, small_config(8));  // 32 tokens of KV
  EXPECT_EQ(engine.sequence_capacity(), 32);
  EXPECT_THROW(engine.submit(greedy(std::vector<int32_t>(32, 1), 4)), Error);
  EXPECT_THROW(engine.submit(greedy({}, 4)), Error);
  EXPECT_THROW(engine.submit(greedy({61}, 4)), Error);
  EXPECT_THROW(engine.submit(greedy({1}, 0)), Error);
  Request bad = greedy({1}, 4);
  bad.sampling.top_p = 0;
  EXPECT_THROW(engine.submit(bad), Error);
  Request stops = greedy({1}, 4);
  stops.stop.stop_strings = {"x"};
  EXPECT_THROW(engine.submit(stops), Error);  // no tokenizer
  // A long max_tokens is clamped to the capacity: the request ends with Length, not an error.
  RequestHandle h = engine.submit(greedy(std::vector<int32_t>(30, 1), 100));
  engine.run_until_idle();
  Outcome o = collect(h);
  EXPECT_EQ(o.reason, FinishReason::Length);
  EXPECT_EQ(o.tokens.size(), 2u);
}

TEST(Engine, CancelFreesEverythingAtTheNextStep) {
  MockModel model;
  Engine engine(model, nullptr, small_config(64));
  RequestHandle a = engine.submit(greedy({1, 2, 3, 4, 5}, 1000));
  RequestHandle b = engine.submit(greedy({5, 4, 3}, 3));
  for (int i = 0; i < 5; ++i) engine.step();
  EXPECT_GT(engine.metrics().kv_blocks_used, 0);
  engine.cancel(a.id);
  engine.cancel(12345);  // unknown: ignored
  engine.run_until_idle();
  Outcome oa = collect(a), ob = collect(b);
  EXPECT_EQ(oa.reason, FinishReason::Cancelled);
  EXPECT_EQ(oa.tokens.size(), 5u);
  EXPECT_EQ(ob.reason, FinishReason::Length);
  EngineMetrics m = engine.metrics();
  EXPECT_EQ(m.kv_blocks_used, 0);
  EXPECT_EQ(m.requests_cancelled, 1);
  engine.blocks().check_invariants();
  // Cancelling before the first step: the request never runs.
  RequestHandle c = engine.submit(greedy({1}, 4));
  engine.cancel(c.id);
  engine.run_until_idle();
  Outcome oc = collect(c);
  EXPECT_EQ(oc.reason, FinishReason::Cancelled);
  EXPECT_TRUE(oc.tokens.empty());
}

TEST(Engine, ASecondRequestWithTheSamePrefixSkipsItsPrefill) {  // even after a 1-token request
  MockModel model;
  Engine engine(model, nullptr, small_config(64));
  std::vector<int32_t> system(37);
  for (size_t i = 0; i < system.size(); ++i) system[i] = static_cast<int32_t>((i * 7) % 61);
  auto p1 = system, p2 = system;
  p1.push_back(1);
  p2.insert(p2.end(), {2, 3});
  RequestHandle h1 = engine.submit(greedy(p1, 1));
  engine.run_until_idle();
  const int64_t rows_before = model.rows;
  RequestHandle h2 = engine.submit(greedy(p2, 3));
  engine.run_until_idle();
  Outcome o1 = collect(h1), o2 = collect(h2);
  EXPECT_EQ(o1.metrics.cached_tokens, 0);
  EXPECT_EQ(o2.metrics.cached_tokens, 36);  // 9 full blocks of 4
  EXPECT_EQ(model.rows - rows_before, (39 - 36) + 2);  // 3 prompt rows, 2 decode rows
  EXPECT_NEAR(engine.metrics().prefix_hit_rate(), 36.0 / (38 + 39), 1e-9);
  // Same output as without the cache.
  MockModel fresh;
  EngineConfig off = small_config(64);
  off.prefix_caching = false;
  Engine e2(fresh, nullptr, off);
  RequestHandle h3 = e2.submit(greedy(p2, 3));
  e2.run_until_idle();
  EXPECT_EQ(collect(h3).tokens, o2.tokens);
}

TEST(Engine, ABurstWithOneSystemPromptComputesItOnce) {
  MockModel model;
  Engine engine(model, nullptr, small_config(64));
  std::vector<int32_t> system(40);
  for (size_t i = 0; i < system.size(); ++i) system[i] = static_cast<int32_t>((i * 11 + 3) % 61);
  std::vector<RequestHandle> hs;
  for (int i = 0; i < 8; ++i) {
    Request r = greedy(system, 2);
    r.prompt.insert(r.prompt.end(), {i, i + 1, i + 2});
    r.speculation.enabled = false;
    hs.push_back(engine.submit(r));
  }
  engine.run_until_idle();
  int64_t cached = 0;
  for (const auto& h : hs) {
    Outcome o = collect(h);
    EXPECT_EQ(o.reason, FinishReason::Length);
    cached += o.metrics.cached_tokens;
  }
  // The first request computes all 43 prompt tokens; the other seven wait for its 40 shared
  // tokens to be committed and compute only their own 3. Then one decode row each.
  EXPECT_EQ(cached, 7 * 40);
  EXPECT_EQ(model.rows, 43 + 7 * 3 + 8);
}

TEST(Engine, MetricsReportEachStepsRowMix) {
  MockModel model;
  EngineConfig c = small_config(64);
  c.max_step_tokens = 8;
  Engine engine(model, nullptr, c);
  Request a = greedy({1, 2, 3}, 4), b = greedy(std::vector<int32_t>(12, 5), 2);
  a.speculation.enabled = b.speculation.enabled = false;
  engine.submit(a);
  ASSERT_TRUE(engine.step());  // a's prompt: 3 prefill rows
  EngineMetrics m = engine.metrics();
  EXPECT_EQ(m.last_step_prefill_rows, 3);
  EXPECT_EQ(m.last_step_decode_rows, 0);
  EXPECT_EQ(m.last_step_sequences, 1);
  engine.submit(b);
  ASSERT_TRUE(engine.step());  // a decodes one row, b's first chunk takes the other 7
  m = engine.metrics();
  EXPECT_EQ(m.last_step_decode_rows, 1);
  EXPECT_EQ(m.last_step_prefill_rows, 7);
  EXPECT_EQ(m.last_step_sequences, 2);
  EXPECT_EQ(m.last_step_tokens, 8);
  engine.run_until_idle();
}

TEST(Engine, MetricsCountPrefixBlocksEvictedForOthers) {
  MockModel model;
  Engine engine(model, nullptr, small_config(6));  // 6 blocks of 4 tokens
  std::vector<int32_t> p1(13), p2(13);
  for (int i = 0; i < 13; ++i) p1[i] = 1 + i, p2[i] = 30 + i;
  engine.submit(greedy(p1, 1));
  engine.run_until_idle();
  EXPECT_EQ(engine.metrics().kv_blocks_cached, 3);
  EXPECT_EQ(engine.metrics().prefix_evictions, 0);
  // 13 + 9 tokens, 21 of them computed: all 6 blocks, so p1's 3 cached blocks are reused.
  engine.submit(greedy(p2, 9));
  engine.run_until_idle();
  EXPECT_EQ(engine.metrics().prefix_evictions, 3);
}

TEST(Engine, ForwardFailureFailsTheBatchNotTheEngine) {
  MockModel model;
  Engine engine(model, nullptr, small_config(64));
  RequestHandle a = engine.submit(greedy({1, 2}, 4));
  model.fail_next = true;
  engine.run_until_idle();
  Outcome o = collect(a);
  EXPECT_EQ(o.reason, FinishReason::Error);
  EXPECT_NE(o.error.find("asked to fail"), std::string::npos) << o.error;
  RequestHandle b = engine.submit(greedy({1, 2}, 4));
  engine.run_until_idle();
  EXPECT_EQ(collect(b).reason, FinishReason::Length);
  EXPECT_EQ(engine.metrics().kv_blocks_used, 0);
}

// A logits processor that throws after a few tokens: only its request fails.
class ThrowingProcessor final : public LogitsProcessor {
 public:
  void process(float*, int64_t) override {
    if (++calls_ == 3) fail("processor: asked to fail");
  }
  void accept(int32_t) override {}

 private:
  int calls_ = 0;
};

TEST(Engine, AFailingLogitsProcessorFailsOnlyItsRequest) {
  MockModel model;
  Engine engine(model, nullptr, small_config(64));
  Request bad = greedy({1, 2, 3}, 10);
  bad.logits_processor = std::make_shared<ThrowingProcessor>();
  RequestHandle a = engine.submit(bad);
  RequestHandle b = engine.submit(greedy({4, 5, 6}, 10));
  engine.run_until_idle();
  Outcome oa = collect(a), ob = collect(b);
  EXPECT_EQ(oa.reason, FinishReason::Error);
  EXPECT_NE(oa.error.find("asked to fail"), std::string::npos) << oa.error;
  EXPECT_EQ(oa.tokens.size(), 2u);
  EXPECT_EQ(ob.reason, FinishReason::Length);
  EXPECT_EQ(ob.tokens.size(), 10u);
  EXPECT_EQ(engine.metrics().kv_blocks_used, 0);
  EXPECT_EQ(engine.metrics().requests_failed, 1);
}

// Many threads submit, cancel (their own requests and each other's, at any point) and read
// events at once. Checked: every request ends with exactly one Finish and nothing after it; ids
// are unique; a request that was not cancelled gives exactly the tokens it gives alone; a
// cancelled one gives a prefix of them; the engine's counters add up and every KV block is free
// at the end. Run under ThreadSanitizer by scripts/sanitize.sh.
TEST(Engine, ThreadSafeSubmitAndCancelFromManyThreads) {
  MockModel model;
  constexpr int kThreads = 6, kPerThread = 12;
  // Every request's workload, and its tokens alone on a roomy engine.
  struct Work {
    std::vector<int32_t> prompt;
    int64_t max_tokens;
    std::vector<int32_t> alone;
  };
  std::vector<std::vector<Work>> work(kThreads);
  {
    Engine solo(model, nullptr, small_config(200));
    for (int t = 0; t < kThreads; ++t) {
      std::mt19937 rng(1000 + t);
      for (int i = 0; i < kPerThread; ++i) {
        Work w;
        w.prompt.resize(1 + rng() % 20);
        for (auto& x : w.prompt) x = rng() % 61;
        w.max_tokens = 1 + rng() % 30;
        RequestHandle h = solo.submit(greedy(w.prompt, w.max_tokens));
        solo.run_until_idle();
        w.alone = collect(h).tokens;
        work[t].push_back(std::move(w));
      }
    }
  }
  Engine engine(model, nullptr, small_config(40));  // tight: preemption and recompute happen
  engine.start();
  std::mutex ids_mu;
  std::vector<uint64_t> ids;
  std::atomic<uint64_t> last_id{0};
  std::atomic<int> finished{0}, cancelled{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kPerThread; ++i) {
        const Work& w = work[t][i];
        RequestHandle h = engine.submit(greedy(w.prompt, w.max_tokens));
        {
          std::lock_guard lock(ids_mu);
          ids.push_back(h.id);
        }
        last_id = h.id;
        const int mode = static_cast<int>(rng() % 4);
        if (mode == 0) engine.cancel(h.id);                // at once
        if (mode == 1) engine.cancel(last_id.load() - 1);  // someone else's, maybe
        // mode 2: cancel after the first event; mode 3: never.
        Outcome o;
        bool finish_seen = false;
        for (;;) {
          Event e = h.events->pop();
          if (mode == 2 && o.events == 0) engine.cancel(h.id);
          ++o.events;
          if (e.kind == EventKind::Token) {
            ASSERT_FALSE(finish_seen);
            for (const auto& tok : e.tokens) o.tokens.push_back(tok.id);
            continue;
          }
          o.reason = e.reason;
          finish_seen = true;
          break;
        }
        // Nothing follows the Finish.
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        EXPECT_FALSE(h.events->try_pop().has_value());
        ASSERT_LE(o.tokens.size(), w.alone.size());
        EXPECT_TRUE(std::equal(o.tokens.begin(), o.tokens.end(), w.alone.begin())) << "thread " << t << " request " << i;
        if (o.reason == FinishReason::Cancelled) {
          ++cancelled;
        } else {
          EXPECT_EQ(o.reason, FinishReason::Length);
          EXPECT_EQ(o.tokens, w.alone);
          ++finished;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end()) << "request ids repeat";
  EXPECT_EQ(finished + cancelled, kThreads * kPerThread);
  engine.stop();
  EngineMetrics m = engine.metrics();
  EXPECT_EQ(m.kv_blocks_used, 0);
  EXPECT_EQ(m.running, 0);
  EXPECT_EQ(m.waiting, 0);
  EXPECT_EQ(m.requests_submitted, kThreads * kPerThread);
  EXPECT_EQ(m.requests_finished, finished.load());
  EXPECT_EQ(m.requests_cancelled, cancelled.load());
  EXPECT_EQ(m.requests_failed, 0);
}

// The determinism property, over random workloads: each request alone on a roomy engine versus all
// of them together on an engine with a tiny KV pool (preemption and recompute), a small step
// budget (chunked prefill), shared prompt prefixes (cache hits) and random or partly right drafts.
TEST(Engine, PropertyTokensAreTheSameAloneBatchedPreemptedCachedAndDrafted) {
  uint32_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  int64_t total_preemptions = 0, total_cached = 0, total_drafted_steps = 0;
  for (int round = 0; round < 40; ++round) {
    const int64_t vocab = 40 + rng() % 40;
    std::vector<int64_t> eos = {static_cast<int64_t>(rng() % vocab)};
    std::vector<std::vector<int32_t>> systems(3);
    for (auto& s : systems)
      for (int64_t n = rng() % 40; n > 0; --n) s.push_back(rng() % vocab);
    const int num_requests = 1 + rng() % 33;
    std::vector<Request> reqs;
    int64_t longest = 0;
    for (int i = 0; i < num_requests; ++i) {
      Request r;
      r.prompt = systems[rng() % 3];
      for (int64_t n = 1 + rng() % 30; n > 0; --n) r.prompt.push_back(rng() % vocab);
      r.stop.max_tokens = 1 + rng() % 40;
      r.stop.ignore_eos = rng() % 4 == 0;
      if (rng() % 2) {
        r.sampling.temperature = 0;
      } else {
        r.sampling.temperature = 0.7f + 0.1f * (rng() % 5);
        r.sampling.top_p = 0.9f;
        r.sampling.top_k = rng() % 2 ? 0 : 20;
        r.sampling.repetition_penalty = rng() % 2 ? 1.0f : 1.2f;
        r.sampling.seed = rng();
      }
      longest = std::max<int64_t>(longest, r.prompt.size() + r.stop.max_tokens);
      reqs.push_back(r);
    }

    // Alone.
    std::vector<std::vector<int32_t>> expected;
    for (const Request& r : reqs) {
      MockModel m(vocab, 4096, eos);
      EngineConfig cfg;
      cfg.num_kv_blocks = 256;
      cfg.block_size = 16;
      cfg.prefix_caching = false;
      Engine e(m, nullptr, cfg);
      RequestHandle h = e.submit(r);
      e.run_until_idle();
      expected.push_back(collect(h).tokens);
    }

    // Together.
    MockModel model(vocab, 4096, eos);
    EngineConfig cfg;
    cfg.block_size = 1 + rng() % 8;
    cfg.num_kv_blocks = (longest + cfg.block_size - 1) / cfg.block_size + rng() % 12;
    cfg.max_step_tokens = 2 + rng() % 64;
    cfg.max_num_seqs = 1 + rng() % 33;
    Engine engine(model, nullptr, cfg);
    const int draft_mode = rng() % 3;  // 0: none, 1: random drafts, 2: drafts from the answer
    std::map<uint64_t, size_t> index;
    std::mt19937 draft_rng(rng());
    if (draft_mode) {
      engine.set_drafter([&](uint64_t id, std::span<const int32_t> tokens, int cap) {
        std::vector<int32_t> d;
        const auto& want = expected[index.at(id)];
        const size_t done = tokens.size() - reqs[index.at(id)].prompt.size();
        for (int j = 0; j < static_cast<int>(draft_rng() % (cap + 1)); ++j) {
          bool right = draft_mode == 2 && draft_rng() % 5 != 0 && done + j < want.size();
          d.push_back(right ? want[done + j] : static_cast<int32_t>(draft_rng() % vocab));
        }
        ++total_drafted_steps;
        return d;
      });
    }
    std::vector<RequestHandle> handles;
    for (size_t i = 0; i < reqs.size(); ++i) {
      handles.push_back(engine.submit(reqs[i]));
      index[handles.back().id] = i;
      for (int s = rng() % 3; s > 0; --s) engine.step();  // arrivals while others run
    }
    engine.run_until_idle();
    for (size_t i = 0; i < reqs.size(); ++i) {
      Outcome o = collect(handles[i]);
      ASSERT_NE(o.reason, FinishReason::Error) << o.error;
      ASSERT_EQ(o.tokens, expected[i]) << "round " << round << " request " << i << " (block size "
                                       << cfg.block_size << ", " << cfg.num_kv_blocks << " blocks, budget "
                                       << cfg.max_step_tokens << ", drafts " << draft_mode << ")";
      total_preemptions += o.metrics.preemptions;
      total_cached += o.metrics.cached_tokens;
    }
    EngineMetrics m = engine.metrics();
    ASSERT_EQ(m.kv_blocks_used, 0);
    ASSERT_LE(model.max_rows, cfg.max_step_tokens);
    ASSERT_EQ(m.requests_finished, num_requests);
    engine.blocks().check_invariants();
  }
  std::printf("preemptions %lld, cached prompt tokens %lld, drafting sequence-steps %lld\n",
              static_cast<long long>(total_preemptions), static_cast<long long>(total_cached),
              static_cast<long long>(total_drafted_steps));
  EXPECT_GT(total_preemptions, 0) << "the tiny pools should force preemption somewhere";
  EXPECT_GT(total_cached, 0);
}

}  // namespace
}  // namespace ax
