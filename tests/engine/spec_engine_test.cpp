// Built-in n-gram speculation inside the engine's continuous batching: requests that verify
// drafts share steps with plain decodes and prefill chunks (late arrivals), under preemption (a
// small KV pool), and every request's tokens are exactly those of plain decoding of it alone
// (greedy and seeded sampling). The engine's metrics count what was drafted and accepted.
//
// The runs use the default fast kernels: they compute every row bit for bit the same whatever the
// batch (prefill chunks, verify rows and plain decode rows alike), which is what makes the
// identity hold.
#include <gtest/gtest.h>

#include <random>

#include "engine/engine.h"
#include "engine/spec_generate.h"
#include "model/model_source.h"
#include "loaded_model.h"
#include "test_support.h"
#include "util/error.h"
#include "tokenizer/tokenizer.h"

namespace ax {
namespace {

using test::fresh_seed;

using Loaded = test::LoadedModel;
Loaded load(const std::string& path) { return test::load_test_model(path); }

// Prompts that invite drafting (text repeated with variations) and some that do not (random ids).
std::vector<std::vector<int32_t>> prompts(const Tokenizer& tok, int64_t vocab, std::mt19937_64& rng, int n) {
  const std::vector<std::string> texts = {
      "Once upon a time, there was a little girl named Lily. She loved to play outside. Once upon a time,",
      "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n\n\ndef mul(a, b):\n",
      "Tom said: \"I like the red ball.\" Lily said: \"I like the blue ball.\" Tom said: \"I like the",
      "{\"name\": \"a\", \"id\": 1},\n{\"name\": \"b\", \"id\": 2},\n{\"name\": \"c\", \"id\": 3},\n{\"name\":",
  };
  std::vector<std::vector<int32_t>> out;
  for (int i = 0; i < n; ++i) {
    if (i % 5 == 4) {
      std::vector<int32_t> p(10 + rng() % 30);
      for (auto& t : p) t = 3 + static_cast<int32_t>(rng() % (vocab - 3));
      out.push_back(p);
    } else {
      out.push_back(tok.encode(texts[(i + rng() % 2) % texts.size()]));
    }
  }
  return out;
}

Request make_request(const std::vector<int32_t>& prompt, bool greedy, uint64_t seed, bool speculate, int max_draft,
                     int64_t max_tokens) {
  Request r;
  r.prompt = prompt;
  r.stop.max_tokens = max_tokens;
  r.stop.ignore_eos = true;
  r.sampling.temperature = greedy ? 0.0f : 0.9f;
  r.sampling.top_k = greedy ? 0 : 30;
  r.sampling.repetition_penalty = greedy ? 1.0f : 1.1f;
  r.sampling.seed = seed;
  r.speculation.enabled = speculate;
  r.speculation.max_draft = max_draft;
  return r;
}

std::vector<int32_t> plain_alone(Model& model, const Request& r, KvType kv_type) {
  SingleGenerateOptions o;
  o.kv_type = kv_type;
  o.max_tokens = r.stop.max_tokens;
  o.ignore_eos = true;
  o.sampling = r.sampling;
  o.speculation.enabled = false;
  return generate_single(model, r.prompt, o).tokens;
}

void check_batched_identity(const std::string& path, int num_requests, int64_t max_tokens, int64_t kv_blocks,
                            KvType kv_type = KvType::F16) {
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE(::testing::Message() << path << " seed " << seed);
  std::mt19937_64 rng(seed);
  Loaded m = load(path);
  const auto ps = prompts(*m.tok, m.model->config().vocab_size, rng, num_requests);
  std::vector<Request> reqs;
  for (int i = 0; i < num_requests; ++i)
    reqs.push_back(make_request(ps[i], i % 3 != 2, rng(), i % 4 != 3,
                                1 + static_cast<int>(rng() % SpeculationParams::kMaxMaxDraft), max_tokens));

  EngineConfig cfg;
  cfg.num_kv_blocks = kv_blocks;
  cfg.block_size = 16;
  cfg.kv_type = kv_type;
  cfg.max_step_tokens = 64;  // prompts are prefilled in chunks, alongside others' verify rows
  // Draft whenever there is a match (rows priced as nearly free), so many steps verify drafts.
  cfg.speculation.fixed_row_cost = 0.01;
  Engine engine(*m.model, m.tok.get(), cfg);
  std::vector<RequestHandle> hs;
  // Half arrive at once; the rest one every few steps, so steps mix prefill with verification.
  for (int i = 0; i < num_requests / 2; ++i) hs.push_back(engine.submit(reqs[i]));
  for (int i = num_requests / 2; i < num_requests; ++i) {
    for (int s = 0; s < 3; ++s) engine.step();
    hs.push_back(engine.submit(reqs[i]));
  }
  engine.run_until_idle();
  const EngineMetrics em = engine.metrics();

  for (int i = 0; i < num_requests; ++i) {
    std::vector<int32_t> got;
    FinishReason reason = FinishReason::Error;
    std::string error;
    while (auto e = hs[i].events->try_pop()) {
      if (e->kind == EventKind::Token)
        for (const auto& t : e->tokens) got.push_back(t.id);
      else
        reason = e->reason, error = e->error;
    }
    ASSERT_EQ(reason, FinishReason::Length) << "request " << i << ": " << error;
    EXPECT_EQ(got, plain_alone(*m.model, reqs[i], kv_type))
        << "request " << i << (reqs[i].sampling.temperature == 0 ? " greedy" : " sampled")
        << (reqs[i].speculation.enabled ? " speculating" : " plain");
  }
  EXPECT_GT(em.speculation.drafted_tokens, 0);
  EXPECT_GT(em.speculation.accepted_tokens, 0);
  EXPECT_LE(em.speculation.accepted_tokens, em.speculation.drafted_tokens);
  EXPECT_EQ(em.speculation.steps_saved(), em.speculation.accepted_tokens);
  // Every generated token came from a computed row; accepted drafts saved steps.
  EXPECT_EQ(em.generated_tokens, num_requests * max_tokens);
  std::printf("SPEC engine %s: %lld steps, %lld drafted, %lld accepted (%.2f per verify), %lld preemptions\n",
              path.c_str(), static_cast<long long>(em.steps), static_cast<long long>(em.speculation.drafted_tokens),
              static_cast<long long>(em.speculation.accepted_tokens), em.speculation.mean_accepted_length(),
              static_cast<long long>(em.preemptions));
}

TEST(SpecEngine, BatchedSpeculationMatchesPlainDecodingStories) {
  check_batched_identity(test::shared_model("stories260K/stories260K.gguf"), 12, 48, 512);
}

TEST(SpecEngine, BatchedSpeculationMatchesPlainDecodingUnderPreemption) {
  // 24 blocks of 16 tokens for 10 requests of up to ~110 tokens: preemption and recompute.
  check_batched_identity(test::shared_model("stories260K/stories260K.gguf"), 10, 64, 24);
}

TEST(SpecEngine, BatchedSpeculationMatchesPlainDecodingCodeModel) {
  check_batched_identity(test::shared_model("ax-code-15m"), 5, 24, 256);
}

// The same with a float32 KV cache (--kv-type f32): the engine and plain decoding agree on it too.
TEST(SpecEngine, BatchedSpeculationMatchesPlainDecodingF32Cache) {
  check_batched_identity(test::shared_model("stories260K/stories260K.gguf"), 8, 40, 512, KvType::F32);
}

TEST(SpecEngine, RejectsABadMaxDraft) {
  Loaded m = load(test::shared_model("stories260K/stories260K.gguf"));
  EngineConfig cfg;
  cfg.num_kv_blocks = 64;
  Engine engine(*m.model, m.tok.get(), cfg);
  Request r = make_request({1, 2, 3}, true, 0, true, 0, 4);
  EXPECT_THROW(engine.submit(r), Error);
  r.speculation.enabled = false;  // max_draft is not looked at when speculation is off
  EXPECT_NO_THROW(engine.submit(r));
  engine.run_until_idle();
}

}  // namespace
}  // namespace ax
