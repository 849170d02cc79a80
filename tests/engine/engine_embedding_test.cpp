// Embeddings (model/embedding.h) computed on other threads while the engine's thread generates
// with the same model: neither may see the other's numbers. A pass's result lives in the model's
// workspace until the next pass, so an embedding pass that runs between the engine's forward and
// its sampling overwrites the logits being sampled, and a forward pass that runs between an
// embedding pass and its read overwrites the hidden states.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "engine/engine.h"
#include "loaded_model.h"
#include "model/embedding.h"
#include "test_support.h"

namespace ax {
namespace {

std::vector<int32_t> drain_tokens(const RequestHandle& h) {
  std::vector<int32_t> out;
  while (auto e = h.events->try_pop())
    for (const auto& t : e->tokens) out.push_back(t.id);
  return out;
}

TEST(EngineBesideEmbeddings, NeitherChangesTheOther) {
  test::LoadedModel m = test::load_test_model(test::source_dir() + "/models/ax-code-15m");
  // Longer than any step of the generation below, so an embedding pass covers the whole region
  // of the workspace a decode step's logits occupy.
  const std::vector<int32_t> text =
      m.tok->encode("def handler(request):\n    user = request.user\n    if not user.is_authenticated:\n"
                    "        return redirect('/login')\n    items = Item.objects.filter(owner=user)\n"
                    "    return render(request, 'items.html', {'items': items})\n", true, true);
  ASSERT_GT(text.size(), 48u);
  std::vector<Request> requests;
  for (const char* prompt : {"import os\n", "class Foo:\n", "def fib(n):\n"}) {
    Request r;
    r.prompt = m.tok->encode(prompt, true, true);
    r.sampling.temperature = 0;
    r.stop.max_tokens = 64;
    r.stop.ignore_eos = true;
    r.speculation.enabled = false;  // one row per sequence and step: small steps, many of them
    requests.push_back(r);
  }
  EngineConfig cfg;
  cfg.num_kv_blocks = 64;

  // Alone: the engine stepped on this thread, then one embedding.
  std::vector<std::vector<int32_t>> want;
  {
    Engine engine(*m.model, m.tok.get(), cfg);
    std::vector<RequestHandle> hs;
    for (const auto& r : requests) hs.push_back(engine.submit(r));
    engine.run_until_idle();
    for (const auto& h : hs) want.push_back(drain_tokens(h));
  }
  const std::vector<float> embedding = embed_tokens(*m.model, text, EmbeddingPooling::Last);

  // Together: the engine's thread generates while this thread embeds, over and over. A loaded
  // machine may finish a round after one or two embeddings: rounds repeat until enough overlap.
  Engine engine(*m.model, m.tok.get(), cfg);
  engine.start();
  int embeddings = 0, changed = 0;
  for (int round = 0; round < 20 && embeddings < 8; ++round) {
    std::vector<RequestHandle> hs;
    for (const auto& r : requests) hs.push_back(engine.submit(r));
    while (!std::all_of(hs.begin(), hs.end(), [](const RequestHandle& h) { return h.events->finished(); })) {
      if (embed_tokens(*m.model, text, EmbeddingPooling::Last) != embedding) ++changed;
      ++embeddings;
    }
    for (size_t i = 0; i < hs.size(); ++i) EXPECT_EQ(drain_tokens(hs[i]), want[i]) << "round " << round << " request " << i;
  }
  engine.stop();
  EXPECT_GE(embeddings, 8);
  EXPECT_EQ(changed, 0) << "of " << embeddings << " embeddings computed beside the engine";
}

}  // namespace
}  // namespace ax
