// Batch invariance of the kernels: do a request's tokens and log-probs stay the same whether it
// runs alone or batched with N - 1 others?
//
//   batch_invariance [--model DIR_OR_GGUF] [--threads 0] [--requests 64] [--reference] [--backend cpu|cuda]
//
// N requests (8-127 random prompt tokens, 32 generated, half greedy, half sampled at temperature
// 0.8, each with its own seed) run alone and then all together on one engine; counts the requests
// whose tokens are identical and the largest log-prob difference over identical prefixes. The
// engine itself is batch-invariant (tests prove it on the reference ops); this measures whether
// the backend's kernels are (--reference: the CPU's scalar reference ops).
//
// What this program measured before about the runtime (batching throughput, prefix-cache prefill)
// is now measured by `ax-engine bench run` with bench/manifests/matrix-concurrency.json and
// shared-prefix-prefill.json (docs/BENCH.md); token identity alone vs batched also shows with
// `bench compare --require-same-outputs` on two runs of one manifest at different concurrency.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend.h"
#include "engine/engine.h"
#include "model/model.h"
#include "model/model_source.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace ax {
namespace {

// The bundled code model: models/ in the source tree (the binary sits in <repo>/build-*/), else
// ../shared/models beside the repo.
std::string default_model() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path repo = fs::read_symlink("/proc/self/exe", ec).parent_path().parent_path();
  for (const fs::path& p : {repo / "models/ax-code-15m", repo / "../shared/models/ax-code-15m"})
    if (fs::exists(p / "config.json")) return p.lexically_normal().string();
  return "models/ax-code-15m";
}

std::vector<int32_t> random_prompt(std::mt19937& rng, int64_t n, int64_t vocab) {
  std::vector<int32_t> p(n);
  // Skip the lowest ids (special tokens in most vocabularies).
  for (auto& t : p) t = static_cast<int32_t>(16 + rng() % (vocab - 16));
  return p;
}

struct InvarianceResult {
  int identical = 0, greedy_identical = 0, greedy = 0, total = 0;
  double max_logprob_diff = 0;
};

InvarianceResult invariance(Model& model, int n, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t vocab = model.config().vocab_size;
  std::vector<Request> reqs;
  for (int i = 0; i < n; ++i) {
    Request r;
    r.prompt = random_prompt(rng, 8 + rng() % 120, vocab);
    r.stop.max_tokens = 32;
    r.stop.ignore_eos = true;
    r.top_logprobs = 0;
    r.sampling.temperature = i % 2 ? 0.0f : 0.8f;
    r.sampling.seed = rng();
    reqs.push_back(std::move(r));
  }
  auto run_engine = [&](const std::vector<Request>& batch) {
    EngineConfig cfg;
    cfg.kv_memory_bytes = int64_t{1} << 30;
    Engine engine(model, nullptr, cfg);
    std::vector<RequestHandle> hs;
    for (const auto& r : batch) hs.push_back(engine.submit(r));
    engine.run_until_idle();
    std::vector<std::vector<TokenInfo>> out;
    for (const auto& h : hs) {
      std::vector<TokenInfo> toks;
      while (auto e = h.events->try_pop())
        if (e->kind == EventKind::Token) toks.insert(toks.end(), e->tokens.begin(), e->tokens.end());
      out.push_back(std::move(toks));
    }
    return out;
  };
  const auto together = run_engine(reqs);
  InvarianceResult res;
  res.total = n;
  for (int i = 0; i < n; ++i) {
    const auto alone = run_engine({reqs[i]})[0];
    bool same = alone.size() == together[i].size();
    for (size_t k = 0; same && k < alone.size(); ++k) {
      same = alone[k].id == together[i][k].id;
      if (same) res.max_logprob_diff = std::max<double>(res.max_logprob_diff, std::abs(alone[k].logprob - together[i][k].logprob));
    }
    res.identical += same;
    if (reqs[i].sampling.temperature == 0) {
      ++res.greedy;
      res.greedy_identical += same;
    }
  }
  return res;
}

int run(int argc, char** argv) {
  CLI::App app{"Batch invariance of the kernels: tokens and log-probs alone vs batched"};
  std::string model_path = default_model();
  int threads = 0, requests = 64;
  bool reference = false;
  std::string backend_kind = "cpu";
  app.add_option("-m,--model", model_path, "Model: a .gguf file or a Hugging Face folder")->capture_default_str();
  app.add_option("-t,--threads", threads, "CPU threads (0: all)")->capture_default_str();
  app.add_option("-n,--requests", requests, "Requests, run alone and then together")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_flag("--reference", reference, "Use the CPU's scalar reference ops instead of the fast kernels");
  app.add_option("--backend", backend_kind, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  CLI11_PARSE(app, argc, argv);

  auto backend = make_backend({.kind = backend_kind, .threads = threads, .reference = reference});
  auto source = open_model(model_path);
  auto model = load_model(*source, *backend);
  std::printf("model %s (%s) on %s, %u hardware threads\n", model_path.c_str(), source->format().c_str(),
              backend->description().c_str(), std::thread::hardware_concurrency());
  InvarianceResult r = invariance(*model, requests, 4321);
  std::printf("batch invariance (%s): %d/%d requests identical alone and batched (greedy %d/%d); "
              "largest log-prob difference over identical prefixes %.2e\n",
              reference ? "reference ops" : "fast kernels", r.identical, r.total, r.greedy_identical, r.greedy,
              r.max_logprob_diff);
  return 0;
}

}  // namespace
}  // namespace ax

int main(int argc, char** argv) {
  try {
    return ax::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
