// stories260K from its GGUF file (llama.cpp layout: interleaved Q/K rows, adjacent-pair RoPE)
// against the same model as a Hugging Face fixture (rotate-half layout), and against the
// independent greedy reference made from llama2.c's run.c.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "golden_support.h"
#include "model/model_source.h"
#include "test_support.h"

namespace ax::test {
namespace {

TEST(Stories260K, GgufAndHfGiveTheSameLogits) {
  auto oracle = make_backend({.kind = "cpu", .reference = true});
  auto gguf_src = open_model(shared_model("stories260K/stories260K.gguf"));
  auto hf_src = open_model(fixture("stories260K"));
  ASSERT_EQ(gguf_src->config().rope.style, RopeStyle::AdjacentPairs);
  auto gguf = load_model(*gguf_src, *oracle);
  auto hf = load_model(*hf_src, *oracle);
  const int64_t V = hf->config().vocab_size;
  ASSERT_EQ(gguf->config().vocab_size, V);
  Reference ref = open_reference(fixture("stories260K/reference.safetensors"));
  for (int i = 0; i < 3; ++i) {
    const auto ids = ref.ints(fmt::format("input_ids.{}", i));
    const auto want = ref.floats(fmt::format("logits.{}", i));
    SequenceRunner a(*gguf, static_cast<int64_t>(ids.size())), b(*hf, static_cast<int64_t>(ids.size()));
    const auto la = a.feed(ids, true), lb = b.feed(ids, true);
    const Diff between = compare(la.data(), lb.data(), la.size());
    const Diff vs_ref = compare(la.data(), want.data(), want.size());
    EXPECT_LE(between.max_abs, between.tolerance(1e-4)) << "prompt " << i << ": GGUF vs HF";
    EXPECT_LE(vs_ref.max_abs, vs_ref.tolerance(1e-4)) << "prompt " << i << ": GGUF vs transformers";
    std::printf("GOLDEN stories260K.gguf prompt %d (T=%zu): vs HF-folder max|d| %.2e, vs transformers %.2e "
                "(scale %.2f)\n", i, ids.size(), between.max_abs, vs_ref.max_abs, vs_ref.scale);
  }
}

TEST(Stories260K, GgufReproducesLlama2cGreedyReference) {
  std::ifstream f(shared_model("stories260K/greedy_reference.json"));
  ASSERT_TRUE(f) << "greedy_reference.json missing";
  const auto j = nlohmann::json::parse(f);
  const auto want_tokens = j.at("generated_token_ids").get<std::vector<int32_t>>();
  const auto logit_inputs = j.at("logits_input_tokens").get<std::vector<int32_t>>();
  const auto want_logits = j.at("logits_first_8_positions").get<std::vector<std::vector<float>>>();

  auto src = open_model(shared_model("stories260K/stories260K.gguf"));
  // The reference ops (the oracle), then the default fast kernels.
  for (bool reference : {true, false}) {
    SCOPED_TRACE(reference ? "reference ops" : "fast kernels");
    auto be = make_backend({.kind = "cpu", .reference = reference});
    auto model = load_model(*src, *be);
    const int64_t V = model->config().vocab_size;
    SequenceRunner run(*model, 1 + static_cast<int64_t>(want_tokens.size()));
    std::vector<int32_t> got;
    std::vector<float> row = run.feed({1}, false);  // BOS
    Diff first8;
    for (size_t k = 0; k < want_tokens.size(); ++k) {
      if (k < want_logits.size()) {
        ASSERT_EQ(k == 0 ? 1 : got[k - 1], logit_inputs[k]);
        const Diff d = compare(row.data(), want_logits[k].data(), V);
        first8.max_abs = std::max(first8.max_abs, d.max_abs);
        first8.scale = std::max(first8.scale, d.scale);
      }
      got.push_back(argmax(row.data(), V));
      if (k + 1 < want_tokens.size()) row = run.feed({got.back()}, false);
    }
    EXPECT_EQ(got, want_tokens);
    // The file's logits are rounded to 5 decimals: allow that on top of the float32 tolerance.
    EXPECT_LE(first8.max_abs, first8.tolerance(1e-4) + 5e-6);
    std::printf("GOLDEN stories260K.gguf greedy from BOS (%s): %zu/%zu tokens match; first-8-position logits "
                "max|d| %.2e (scale %.2f)\n", reference ? "reference" : "kernels",
                static_cast<size_t>(std::mismatch(got.begin(), got.end(), want_tokens.begin()).first - got.begin()),
                want_tokens.size(), first8.max_abs, first8.scale);
  }
}

}  // namespace
}  // namespace ax::test
