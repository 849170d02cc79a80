// The engine over real models: stories260K (GGUF, trained weights), the tiny Hugging Face
// fixtures, and sparingly the bundled code model ax-code-15m.
//  - Through the engine, greedy decoding reproduces the transformers reference tokens, with the
//    three reference prompts batched together.
//  - Determinism: every request's tokens (greedy and seeded sampling) are identical alone, in a
//    batch of up to 32 others of different lengths, after forced preemption and recompute (a tiny
//    KV pool), with its prefix served from the prefix cache, and with speculative draft rows
//    verified and rolled back; the chosen tokens' log-probs agree within float tolerance.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>

#include <fmt/format.h>

#include "backend/backend.h"
#include "engine/engine.h"
#include "format/safetensors.h"
#include "model/model_source.h"
#include "test_support.h"
#include "util/error.h"
#include "tokenizer/tokenizer.h"

namespace ax {
namespace {

struct Loaded {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<ModelSource> source;
  std::unique_ptr<Model> model;
};

// reference: the CPU's scalar reference ops, which compute every row with the same instructions
// whatever the batch (so batching must not move a log-prob by more than float noise); else the
// default fast kernels of `kind` (cpu, cuda).
Loaded load(const std::string& path, bool reference = false, const std::string& kind = "cpu") {
  Loaded l;
  l.backend = make_backend({.kind = kind, .reference = reference});
  l.source = open_model(path);
  l.model = load_model(*l.source, *l.backend);
  return l;
}

std::vector<int32_t> ref_ints(const SafetensorsFile& f, const std::string& name) {
  const TensorView* t = f.tensor(name);
  if (!t || t->dtype != DType::I32) fail("{}: {} is missing or not int32", f.path(), name);
  std::vector<int32_t> v(t->numel());
  std::memcpy(v.data(), t->data, v.size() * sizeof(int32_t));
  return v;
}

struct Result {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;
  FinishReason reason = FinishReason::Error;
  std::string error;
  RequestMetrics metrics;
};

Result drain(const RequestHandle& h) {
  Result r;
  while (auto e = h.events->try_pop()) {
    if (e->kind == EventKind::Token) {
      for (const auto& t : e->tokens) {
        r.tokens.push_back(t.id);
        r.logprobs.push_back(t.logprob);
      }
    } else {
      r.reason = e->reason;
      r.error = e->error;
      r.metrics = e->metrics;
    }
  }
  return r;
}

std::vector<Result> run_all(Model& model, const EngineConfig& cfg, const std::vector<Request>& reqs,
                            std::mt19937* interleave = nullptr) {
  Engine engine(model, nullptr, cfg);
  std::vector<RequestHandle> hs;
  for (const auto& r : reqs) {
    hs.push_back(engine.submit(r));
    if (interleave)
      for (int s = (*interleave)() % 3; s > 0; --s) engine.step();
  }
  engine.run_until_idle();
  std::vector<Result> out;
  for (const auto& h : hs) out.push_back(drain(h));
  EXPECT_EQ(engine.metrics().kv_blocks_used, 0);
  engine.blocks().check_invariants();
  return out;
}

// Greedy through the engine equals the reference, the three prompts in one batch, with chunked
// prefill (budget smaller than the longest prompt).
void expect_reference_greedy(const std::string& dir, int64_t block_size, int64_t budget, const std::string& kind = "cpu") {
  Loaded m = load(dir, false, kind);
  auto ref = SafetensorsFile::open(dir + "/reference.safetensors");
  std::vector<Request> reqs;
  std::vector<std::vector<int32_t>> want;
  for (int i = 0; i < 3; ++i) {
    Request r;
    r.prompt = ref_ints(*ref, fmt::format("input_ids.{}", i));
    want.push_back(ref_ints(*ref, fmt::format("greedy.{}", i)));
    r.sampling.temperature = 0;
    r.stop.max_tokens = static_cast<int64_t>(want.back().size());
    r.stop.ignore_eos = true;
    reqs.push_back(r);
  }
  EngineConfig cfg;
  cfg.block_size = block_size;
  cfg.num_kv_blocks = 64;
  cfg.max_step_tokens = budget;
  std::vector<Result> got = run_all(*m.model, cfg, reqs);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].reason, FinishReason::Length) << got[i].error;
    EXPECT_EQ(got[i].tokens, want[i]) << dir << " prompt " << i;
  }
}

TEST(EngineModel, Stories260KGreedyMatchesTheReferenceInOneBatch) {
  expect_reference_greedy(test::fixture("stories260K"), 16, 48);
}

TEST(EngineModel, HfFixturesGreedyMatchTheReferenceInOneBatch) {
  // Sliding windows (mistral), biases (qwen2), q/k norms (qwen3), llama3 rope; Gemma 4's layers of
  // two head widths in one cache, per-layer embeddings and experts beside the dense MLP.
  for (const char* name : {"llama", "llama3_rope", "qwen2", "qwen3", "mistral", "gemma4_text", "gemma4_text_moe"}) {
    SCOPED_TRACE(name);
    expect_reference_greedy(test::fixture(name), 8, 32);
  }
}

// Random workloads on one model: alone vs batched with a tiny pool vs batched again with the
// prefix cache warm.
void expect_batch_invariance(Model& model, int64_t vocab, int num_requests, int64_t max_prompt, int64_t max_new,
                             uint32_t seed, double logprob_tol, bool require_preemption) {
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  std::vector<int32_t> system(8 + rng() % 40);
  for (auto& t : system) t = rng() % vocab;
  std::vector<Request> reqs;
  int64_t longest = 0;
  for (int i = 0; i < num_requests; ++i) {
    Request r;
    if (rng() % 2) r.prompt = system;
    for (int64_t n = 1 + rng() % max_prompt; n > 0; --n) r.prompt.push_back(rng() % vocab);
    r.stop.max_tokens = 1 + rng() % max_new;
    r.stop.ignore_eos = true;
    r.top_logprobs = 0;
    if (i % 2) {
      r.sampling.temperature = 0;
    } else {
      r.sampling.temperature = 0.9f;
      r.sampling.top_p = 0.95f;
      r.sampling.seed = rng();
    }
    longest = std::max<int64_t>(longest, r.prompt.size() + r.stop.max_tokens);
    reqs.push_back(std::move(r));
  }
  std::vector<Result> alone;
  for (const auto& r : reqs) {
    EngineConfig cfg;
    cfg.num_kv_blocks = (longest + 15) / 16 + 1;
    cfg.prefix_caching = false;
    alone.push_back(run_all(model, cfg, {r})[0]);
  }
  auto check = [&](const std::vector<RequestHandle>& hs, const char* what, int64_t* preemptions, int64_t* cached) {
    for (size_t i = 0; i < reqs.size(); ++i) {
      Result got = drain(hs[i]);
      ASSERT_EQ(got.reason, FinishReason::Length) << got.error;
      ASSERT_EQ(got.tokens, alone[i].tokens) << what << ", request " << i;
      for (size_t k = 0; k < got.logprobs.size(); ++k)
        ASSERT_NEAR(got.logprobs[k], alone[i].logprobs[k], logprob_tol) << what << ", request " << i << " token " << k;
      *preemptions += got.metrics.preemptions;
      *cached += got.metrics.cached_tokens;
    }
  };

  // 1. A tiny pool (a little more than the longest request needs) so sequences preempt each other,
  // a small step budget (chunked prefill), arrivals while others run, and speculative rows:
  // drafts that are partly the right continuation, partly noise, so some are accepted and the
  // rest rolled back out of the paged cache.
  EngineConfig tight;
  tight.block_size = 4;
  tight.num_kv_blocks = (longest + 3) / 4 + 2;
  tight.max_step_tokens = 32;
  tight.max_num_seqs = 32;
  int64_t preemptions = 0, cached = 0, ignored = 0;
  {
    Engine engine(model, nullptr, tight);
    std::map<uint64_t, size_t> index;
    std::mt19937 draft_rng(rng());
    engine.set_drafter([&](uint64_t id, std::span<const int32_t> tokens, int cap) {
      const size_t i = index.at(id);
      const size_t done = tokens.size() - reqs[i].prompt.size();
      std::vector<int32_t> d;
      for (int j = 0; j < static_cast<int>(draft_rng() % (cap + 1)); ++j) {
        const bool right = draft_rng() % 4 != 0 && done + j < alone[i].tokens.size();
        d.push_back(right ? alone[i].tokens[done + j] : static_cast<int32_t>(draft_rng() % vocab));
      }
      return d;
    });
    std::vector<RequestHandle> hs;
    for (size_t i = 0; i < reqs.size(); ++i) {
      hs.push_back(engine.submit(reqs[i]));
      index[hs.back().id] = i;
      for (int s = rng() % 2; s > 0; --s) engine.step();
    }
    engine.run_until_idle();
    check(hs, "tight pool", &preemptions, &ignored);
    EXPECT_EQ(engine.metrics().kv_blocks_used, 0);
    engine.blocks().check_invariants();
  }
  // 2. Prefix cache: a pool big enough that nothing is evicted; the second pass finds every
  // request's full prompt blocks from the first (and requests sharing the system prompt hit each
  // other's blocks in both passes).
  {
    EngineConfig roomy = tight;
    roomy.num_kv_blocks = 2 * num_requests * ((longest + 3) / 4);
    Engine engine(model, nullptr, roomy);
    for (int pass = 0; pass < 2; ++pass) {
      std::vector<RequestHandle> hs;
      for (const auto& r : reqs) hs.push_back(engine.submit(r));
      engine.run_until_idle();
      int64_t pass_cached = 0;
      check(hs, pass ? "cached, second pass" : "cached, first pass", &ignored, &pass_cached);
      if (pass == 1) cached = pass_cached;
    }
    engine.blocks().check_invariants();
  }
  if (require_preemption) {
    EXPECT_GT(preemptions, 0) << "the tiny pool should force preemption";
  }
  int64_t cacheable = 0;  // full blocks of every prompt minus its last token
  for (const auto& r : reqs) cacheable += (static_cast<int64_t>(r.prompt.size()) - 1) / 4 * 4;
  EXPECT_EQ(cached, cacheable) << "the second pass serves every full prompt block from the cache";
  std::printf("ENGINE batch invariance: %d requests, %lld preemptions, %lld cached prompt tokens in pass 2\n",
              num_requests, static_cast<long long>(preemptions), static_cast<long long>(cached));
}

TEST(EngineModel, Stories260KTokensAreTheSameAloneBatchedPreemptedAndCached) {
  Loaded m = load(test::shared_model("stories260K/stories260K.gguf"), /*reference=*/true);
  expect_batch_invariance(*m.model, m.model->config().vocab_size, 33, 120, 40, std::random_device{}(), 1e-4, true);
}



TEST(EngineModel, HfFixturesAreBatchInvariant) {
  // Mistral's 32-token sliding window over paged, shared and recomputed blocks; Qwen3's q/k norms;
  // Gemma 2's soft-caps and alternating windows; Qwen3-MoE's routed experts; GLM-4.5's grouped
  // sigmoid routing, shared expert and half-rotated heads; gpt-oss's attention sinks over sliding
  // windows, biased router and experts, clamped SwiGLU and YaRN; DeepSeek-V3's and GLM-4.7-Flash's
  // latent attention over a cache of latent rows; Gemma 4's sliding and full layers of different
  // head widths, per-layer embeddings, and experts beside the dense MLP.
  for (const char* name : {"mistral", "qwen3", "gemma2", "qwen3_moe", "glm4_moe", "gpt_oss", "deepseek_v3",
                           "glm4_moe_lite", "gemma4_text", "gemma4_text_moe"}) {
    SCOPED_TRACE(name);
    Loaded m = load(test::fixture(name), /*reference=*/true);
    expect_batch_invariance(*m.model, m.model->config().vocab_size, 12, 60, 24, std::random_device{}(), 1e-4, false);
  }
}

// Mistral slides every layer's window (32 keys), so blocks that fall behind it are released as a
// sequence moves on: sequences far longer than the pool run without preemption, and their tokens
// are the ones a pool that keeps every block gives (windows off: a pool below window + step).
TEST(EngineModel, SlidingWindowBlocksAreReleasedAndTokensStayTheSame) {
  Loaded m = load(test::fixture("mistral"));
  const int64_t vocab = m.model->config().vocab_size;
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  std::vector<int32_t> system(40);
  for (auto& t : system) t = static_cast<int32_t>(rng() % vocab);
  std::vector<Request> reqs;
  for (int i = 0; i < 4; ++i) {
    Request r;
    r.prompt = system;  // a shared prefix: its blocks are dropped by one sequence, held by another
    for (int64_t n = 5 + rng() % 30; n > 0; --n) r.prompt.push_back(static_cast<int32_t>(rng() % vocab));
    r.stop.max_tokens = 300 + i * 150;
    r.stop.ignore_eos = true;
    if (i % 2) {
      r.sampling.temperature = 0;
    } else {
      r.sampling.temperature = 0.9f;
      r.sampling.seed = rng();
    }
    reqs.push_back(std::move(r));
  }
  // Alone, every block kept: 60 blocks of 16 (960 tokens) is below the 32 + 1024 + 2 * 16 a
  // step of 1024 rows needs for windows to release blocks.
  std::vector<Result> alone;
  for (const auto& r : reqs) {
    EngineConfig cfg;
    cfg.num_kv_blocks = 60;
    cfg.max_step_tokens = 1024;
    alone.push_back(run_all(*m.model, cfg, {r})[0]);
    ASSERT_EQ(alone.back().reason, FinishReason::Length) << alone.back().error;
  }
  // Together in 16 blocks (256 tokens) with steps of 64 rows: the four need 22 to 60 blocks each
  // without releases.
  EngineConfig cfg;
  cfg.num_kv_blocks = 16;
  cfg.max_step_tokens = 64;
  Engine engine(*m.model, nullptr, cfg);
  std::vector<RequestHandle> hs;
  for (const auto& r : reqs) hs.push_back(engine.submit(r));
  int64_t peak = 0;
  while (engine.step()) peak = std::max(peak, engine.metrics().kv_blocks_used);
  EXPECT_LE(peak, 16);
  EXPECT_EQ(engine.metrics().kv_blocks_used, 0);
  for (size_t i = 0; i < reqs.size(); ++i) {
    Result got = drain(hs[i]);
    ASSERT_EQ(got.reason, FinishReason::Length) << got.error;
    EXPECT_EQ(got.tokens, alone[i].tokens) << "request " << i;
    EXPECT_EQ(got.metrics.preemptions, 0) << "request " << i;
  }
}

// The engine sizes its pool by the model's cache rows: a latent-attention model's budget buys blocks
// of latent rows (40 values per token and layer on the fixtures), not K and V per head.
TEST(EngineModel, LatentAttentionPoolIsSizedByTheLatentRow) {
  Loaded m = load(test::fixture("deepseek_v3"));
  const KvShape s = m.model->kv_shape();
  ASSERT_EQ(s.values_per_token_layer(), 40);
  EngineConfig cfg;
  cfg.kv_memory_bytes = 1000 * static_cast<int64_t>(KvCache::bytes_per_block(s, cfg.block_size, cfg.kv_type));
  Engine engine(*m.model, nullptr, cfg);
  EXPECT_EQ(engine.metrics().kv_blocks_total, 1000);
}

// A fixture through the engine on its defaults (fast kernels, f16 cache): 16 greedy requests, half
// sharing a system prompt and some repeating themselves (so the n-gram drafter proposes), give the
// same tokens alone and in one batch, with prefix reuse asked on and off and speculation on and
// off. Hybrid (recurrent) models turn prefix reuse off whatever is asked, and roll their state back
// after rejected drafts.
void check_alone_batched_cached_speculated(const char* name, bool recurrent) {
  {
    const uint32_t seed = std::random_device{}();
    SCOPED_TRACE(testing::Message() << name << " seed " << seed);
    Loaded m = load(test::fixture(name));
    std::mt19937 rng(seed);
    const int64_t vocab = m.model->config().vocab_size;
    std::vector<int32_t> system(24);
    for (auto& t : system) t = static_cast<int32_t>(3 + rng() % (vocab - 3));
    std::vector<Request> reqs(16);
    for (size_t i = 0; i < reqs.size(); ++i) {
      Request& r = reqs[i];
      if (i % 2 == 0) r.prompt = system;
      std::vector<int32_t> part(4 + rng() % 12);
      for (auto& t : part) t = static_cast<int32_t>(3 + rng() % (vocab - 3));
      for (int rep = i % 4 == 1 ? 3 : 1; rep > 0; --rep) r.prompt.insert(r.prompt.end(), part.begin(), part.end());
      r.sampling.temperature = 0;
      r.stop.max_tokens = 24;
      r.stop.ignore_eos = true;
    }
    int64_t rejected = 0;  // draft tokens the model disagreed with (a recurrent state rolled back)
    std::vector<Result> want;  // alone, no prefix reuse, no speculation
    auto run = [&](bool prefix, bool speculate, bool batched, int64_t* cached, int64_t* drafted) {
      EngineConfig cfg;
      cfg.num_kv_blocks = 160;
      cfg.prefix_caching = prefix;
      // Rows of this tiny model cost as much as steps: the measured cost would often close the gate.
      cfg.speculation.fixed_row_cost = 0.05;
      Engine engine(*m.model, nullptr, cfg);
      // The random hybrids' greedy replies rarely repeat their prompts, so the n-gram drafter seldom
      // proposes: draft the plain greedy reply instead, with its second token wrong (one accepted
      // draft token, then a rejected one, every verify step).
      if (recurrent && speculate)
        engine.set_drafter([&](uint64_t id, std::span<const int32_t> tokens, int cap) {
          const size_t i = static_cast<size_t>(id - 1);  // ids count submissions from 1
          const std::vector<int32_t>& reply = want.at(i).tokens;
          std::vector<int32_t> d;
          for (size_t at = tokens.size() - reqs[i].prompt.size(); at < reply.size() && d.size() < size_t(cap); ++at)
            d.push_back(d.size() == 1 ? (reply[at] + 1) % static_cast<int32_t>(vocab) : reply[at]);
          return d;
        });
      std::vector<Result> out;
      std::vector<RequestHandle> hs;
      for (Request r : reqs) {
        r.speculation.enabled = speculate;
        hs.push_back(engine.submit(std::move(r)));
        if (!batched) engine.run_until_idle();  // alone: one request at a time (a warm prefix cache)
      }
      engine.run_until_idle();
      for (const auto& h : hs) {
        out.push_back(drain(h));
        EXPECT_EQ(out.back().reason, FinishReason::Length) << out.back().error;
        *cached += out.back().metrics.cached_tokens;
      }
      *drafted += engine.metrics().speculation.drafted_tokens;
      rejected += engine.metrics().speculation.drafted_tokens - engine.metrics().speculation.accepted_tokens;
      EXPECT_EQ(engine.config().prefix_caching, prefix && !recurrent);
      return out;
    };
    int64_t ignored = 0;
    want = run(false, false, false, &ignored, &ignored);
    for (bool prefix : {false, true})
      for (bool speculate : {false, true})
        for (bool batched : {false, true}) {
          SCOPED_TRACE(testing::Message() << "prefix reuse " << prefix << ", speculation " << speculate
                                          << (batched ? ", a batch of 16" : ", alone"));
          int64_t cached = 0, drafted = 0;
          const std::vector<Result> got = run(prefix, speculate, batched, &cached, &drafted);
          int same = 0;
          for (size_t i = 0; i < reqs.size(); ++i) {
            EXPECT_EQ(got[i].tokens, want[i].tokens) << "request " << i;
            same += got[i].tokens == want[i].tokens;
          }
          if (prefix && !recurrent) {
            EXPECT_GT(cached, 0) << "the shared system prompt is served from the cache";
          }
          if (!prefix || recurrent) {
            EXPECT_EQ(cached, 0);
          }
          if (speculate) {
            EXPECT_GT(drafted, 0) << "the repeating prompts get drafts";
          }
          std::printf("ENGINE %s prefix reuse %d speculation %d %s: %d/16 identical, %lld cached prompt tokens, "
                      "%lld draft tokens verified\n", name, prefix, speculate, batched ? "batched" : "alone", same,
                      static_cast<long long>(cached), static_cast<long long>(drafted));
        }
    if (recurrent) EXPECT_GT(rejected, 0) << "some drafts were rejected: the state rollback ran";
  }
}

TEST(EngineModel, LatentAttentionGreedyIsTheSameAloneBatchedCachedAndSpeculated) {
  for (const char* name : {"deepseek_v3", "glm4_moe_lite"}) check_alone_batched_cached_speculated(name, false);
}

// Gemma 4: a paged cache whose layers are of two widths, under prefix reuse and speculation.
TEST(EngineModel, Gemma4GreedyIsTheSameAloneBatchedCachedAndSpeculated) {
  for (const char* name : {"gemma4_text", "gemma4_text_moe"}) check_alone_batched_cached_speculated(name, false);
}

TEST(EngineModel, HybridGreedyIsTheSameAloneBatchedCachedAndSpeculated) {
  for (const char* name : {"qwen3_next", "qwen3_5_text", "qwen3_5_moe_text"})
    check_alone_batched_cached_speculated(name, true);
}

TEST(EngineModel, AxCode15mGreedyMatchesTheReferenceAndIsBatchInvariant) {
  const std::string dir = test::shared_model("ax-code-15m");
  expect_reference_greedy(dir, 16, 128);
  Loaded m = load(dir, /*reference=*/true);  // slow but batch-invariant: keep this workload small
  expect_batch_invariance(*m.model, m.model->config().vocab_size, 5, 24, 8, std::random_device{}(), 1e-4, false);
}

// The runtime on the GPU, unchanged: continuous batching, chunked prefill, preemption, prefix
// reuse and speculative rows give every request exactly the tokens (and log-probs) it gets alone,
// because the CUDA kernels are batch-invariant too.
TEST(EngineModel, CudaTokensAreTheSameAloneBatchedPreemptedCachedAndDrafted) {
  if (cuda_devices().empty()) GTEST_SKIP() << "no CUDA device on this machine";
  for (const std::string& path : {test::shared_model("stories260K/stories260K.gguf"), test::fixture("qwen3")}) {
    SCOPED_TRACE(path);
    Loaded m = load(path, false, "cuda");
    expect_batch_invariance(*m.model, m.model->config().vocab_size, 24, 90, 30, std::random_device{}(), 0.0, false);
  }
}

}  // namespace
}  // namespace ax
