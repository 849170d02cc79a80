// Runtime benchmark: what continuous batching and the prefix cache buy on the CPU.
//
//   runtime_bench [--model DIR_OR_GGUF] [--threads 0] [--concurrency 1,4,16,64]
//                 [--prompt-tokens 64] [--max-tokens 64] [--prefix-tokens 1024] [--repeats 3]
//                 [--speculation] [--invariance N [--reference-linear]]
//
// 1. Throughput: C requests submitted at once (distinct random prompts of --prompt-tokens, greedy,
//    --max-tokens each, EOS ignored), run to completion by the engine on this thread. Reports
//    aggregate generated tokens/s (all tokens / wall time), decode tokens/s per request, mean
//    TTFT, steps and mean rows per step. Best of --repeats. N-gram speculation is off unless
//    --speculation is given, so the numbers show batching alone.
// 2. Shared prefix: a --prefix-tokens "system prompt" + 32 own tokens, max_tokens 1, so the time is
//    the prefill. Cold (empty cache), warm (a second request with another suffix: the prefix
//    comes from the prefix cache), and warm with prefix caching off. Then a burst: 16 such
//    requests submitted at once on an empty cache, with and without prefix caching.
// 3. --invariance N: N requests (half greedy, half seeded sampling) run alone and then all together
//    on one engine; counts the requests whose tokens are identical and the largest log-prob
//    difference. The engine itself is batch-invariant (tests prove it on the reference linear);
//    this measures whether the model's kernels are (--reference-linear: the scalar reference).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backend/cpu/ops.h"
#include "engine/engine.h"
#include "model/model.h"
#include "model/model_source.h"
#include "util/error.h"

namespace ax {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

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

struct Drained {
  int64_t tokens = 0;
  RequestMetrics metrics;
  FinishReason reason = FinishReason::Error;
  std::string error;
};

Drained drain(const RequestHandle& h) {
  Drained d;
  while (auto e = h.events->try_pop()) {
    if (e->kind == EventKind::Token) {
      d.tokens += static_cast<int64_t>(e->tokens.size());
    } else {
      d.metrics = e->metrics;
      d.reason = e->reason;
      d.error = e->error;
    }
  }
  if (d.reason == FinishReason::Error) fail("runtime_bench: a request failed: {}", d.error);
  return d;
}

struct ThroughputRow {
  int concurrency = 0;
  double seconds = 0, tokens_per_s = 0, decode_per_req = 0, ttft = 0, rows_per_step = 0;
  int64_t tokens = 0, steps = 0;
};

ThroughputRow throughput(Model& model, int concurrency, int64_t prompt_tokens, int64_t max_tokens, bool speculation,
                         uint32_t seed) {
  EngineConfig cfg;
  cfg.max_num_seqs = std::max(64, concurrency);
  cfg.max_step_tokens = 512;
  cfg.kv_memory_bytes = int64_t{2} << 30;
  Engine engine(model, nullptr, cfg);
  std::mt19937 rng(seed);
  const int64_t vocab = model.config().vocab_size;
  std::vector<RequestHandle> hs;
  const auto t0 = Clock::now();
  for (int i = 0; i < concurrency; ++i) {
    Request r;
    r.prompt = random_prompt(rng, prompt_tokens, vocab);
    r.sampling.temperature = 0;
    r.stop.max_tokens = max_tokens;
    r.stop.ignore_eos = true;
    r.speculation.enabled = speculation;
    hs.push_back(engine.submit(std::move(r)));
  }
  engine.run_until_idle();
  ThroughputRow row;
  row.concurrency = concurrency;
  row.seconds = since(t0);
  for (const auto& h : hs) {
    Drained d = drain(h);
    row.tokens += d.tokens;
    row.decode_per_req += d.metrics.decode_tokens_per_s / concurrency;
    row.ttft += d.metrics.ttft_s / concurrency;
  }
  const EngineMetrics m = engine.metrics();
  row.steps = m.steps;
  row.rows_per_step = m.steps ? static_cast<double>(m.computed_tokens) / m.steps : 0;
  row.tokens_per_s = row.tokens / row.seconds;
  return row;
}

struct PrefixRow {
  double cold_s = 0, warm_s = 0, uncached_s = 0;
  int64_t warm_cached = 0;
  // A burst: 16 requests with the shared prefix submitted at once, on an empty cache.
  double burst_s = 0, burst_uncached_s = 0;
  int64_t burst_rows = 0, burst_uncached_rows = 0;
};

// TTFT of one request (max_tokens 1: the time is its prefill) on an engine that may already hold
// earlier requests' blocks.
double ttft(Engine& engine, std::vector<int32_t> prompt, int64_t* cached) {
  Request r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0;
  r.stop.max_tokens = 1;
  r.stop.ignore_eos = true;
  RequestHandle h = engine.submit(std::move(r));
  engine.run_until_idle();
  Drained d = drain(h);
  if (cached) *cached = d.metrics.cached_tokens;
  return d.metrics.ttft_s;
}

PrefixRow shared_prefix(Model& model, int64_t prefix_tokens, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t vocab = model.config().vocab_size;
  const std::vector<int32_t> prefix = random_prompt(rng, prefix_tokens, vocab);
  auto with_suffix = [&] {
    std::vector<int32_t> p = prefix;
    auto s = random_prompt(rng, 32, vocab);
    p.insert(p.end(), s.begin(), s.end());
    return p;
  };
  PrefixRow row;
  for (bool caching : {true, false}) {
    EngineConfig cfg;
    cfg.prefix_caching = caching;
    cfg.max_step_tokens = 2048;
    cfg.kv_memory_bytes = int64_t{1} << 30;
    Engine engine(model, nullptr, cfg);
    std::vector<RequestHandle> hs;
    const auto t0 = Clock::now();
    for (int i = 0; i < 16; ++i) {
      Request r;
      r.prompt = with_suffix();
      r.sampling.temperature = 0;
      r.stop.max_tokens = 1;
      hs.push_back(engine.submit(std::move(r)));
    }
    engine.run_until_idle();
    (caching ? row.burst_s : row.burst_uncached_s) = since(t0);
    (caching ? row.burst_rows : row.burst_uncached_rows) = engine.metrics().computed_tokens;
    for (const auto& h : hs) drain(h);
  }
  for (bool caching : {true, false}) {
    EngineConfig cfg;
    cfg.prefix_caching = caching;
    cfg.max_step_tokens = 2048;  // the whole prompt in one step: prefill time, not chunking
    cfg.kv_memory_bytes = int64_t{1} << 30;
    Engine engine(model, nullptr, cfg);
    const double first = ttft(engine, with_suffix(), nullptr);
    int64_t cached = 0;
    const double second = ttft(engine, with_suffix(), &cached);
    if (caching) {
      row.cold_s = first;
      row.warm_s = second;
      row.warm_cached = cached;
    } else {
      row.uncached_s = second;
    }
  }
  return row;
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
  CLI::App app{"Runtime benchmark: batching throughput and prefix-cache prefill"};
  std::string model_path = default_model();
  int threads = 0, repeats = 3;
  std::string concurrency = "1,4,16,64";
  int64_t prompt_tokens = 64, max_tokens = 64, prefix_tokens = 1024;
  app.add_option("-m,--model", model_path, "Model: a .gguf file or a Hugging Face folder")->capture_default_str();
  app.add_option("-t,--threads", threads, "CPU threads (0: all)")->capture_default_str();
  app.add_option("--concurrency", concurrency, "Comma-separated concurrent request counts")->capture_default_str();
  app.add_option("--prompt-tokens", prompt_tokens, "Prompt length of each throughput request")->capture_default_str();
  app.add_option("--max-tokens", max_tokens, "Tokens generated per throughput request")->capture_default_str();
  app.add_option("--prefix-tokens", prefix_tokens, "Shared prefix length for the prefix-cache run")->capture_default_str();
  app.add_option("--repeats", repeats, "Runs per measurement (best is reported)")->capture_default_str();
  bool speculation = false;
  app.add_flag("--speculation", speculation, "Let throughput requests use n-gram speculation (off: batching alone)");
  int invariance_requests = 0;
  bool reference_linear = false;
  app.add_option("--invariance", invariance_requests, "Only check batch invariance with N requests (0: off)");
  app.add_flag("--reference-linear", reference_linear, "Use the scalar reference linear instead of the fast kernels");
  CLI11_PARSE(app, argc, argv);
  if (reference_linear) cpu::set_linear_kernel(nullptr);

  cpu::set_num_threads(threads);
  auto source = open_model(model_path);
  auto model = load_model(*source);
  std::printf("model %s (%s), %d threads, %u hardware threads\n", model_path.c_str(), source->format().c_str(),
              cpu::num_threads(), std::thread::hardware_concurrency());

  if (invariance_requests > 0) {
    InvarianceResult r = invariance(*model, invariance_requests, 4321);
    std::printf("batch invariance (%s linear): %d/%d requests identical alone and batched (greedy %d/%d); "
                "largest log-prob difference over identical prefixes %.2e\n",
                reference_linear ? "reference" : "fast-kernel", r.identical, r.total, r.greedy_identical, r.greedy,
                r.max_logprob_diff);
    return 0;
  }

  std::vector<int> levels;
  std::stringstream ss(concurrency);
  for (std::string item; std::getline(ss, item, ',');) levels.push_back(std::stoi(item));

  std::printf("\n| concurrent requests | generated tokens | wall s | aggregate tokens/s | decode tokens/s per request | mean TTFT s | steps | rows/step |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int c : levels) {
    ThroughputRow best;
    for (int r = 0; r < repeats; ++r) {
      ThroughputRow row = throughput(*model, c, prompt_tokens, max_tokens, speculation, 1234 + r);
      if (row.tokens_per_s > best.tokens_per_s) best = row;
    }
    std::printf("| %d | %lld | %.3f | %.1f | %.1f | %.3f | %lld | %.1f |\n", c, static_cast<long long>(best.tokens),
                best.seconds, best.tokens_per_s, best.decode_per_req, best.ttft, static_cast<long long>(best.steps),
                best.rows_per_step);
    std::fflush(stdout);
  }

  PrefixRow best{1e9, 1e9, 1e9, 0};
  for (int r = 0; r < repeats; ++r) {
    PrefixRow row = shared_prefix(*model, prefix_tokens, 99 + r);
    best.cold_s = std::min(best.cold_s, row.cold_s);
    best.warm_s = std::min(best.warm_s, row.warm_s);
    best.uncached_s = std::min(best.uncached_s, row.uncached_s);
    best.warm_cached = row.warm_cached;
    if (r == 0 || row.burst_s < best.burst_s) best.burst_s = row.burst_s, best.burst_rows = row.burst_rows;
    if (r == 0 || row.burst_uncached_s < best.burst_uncached_s)
      best.burst_uncached_s = row.burst_uncached_s, best.burst_uncached_rows = row.burst_uncached_rows;
  }
  std::printf("\n| prompt = %lld-token shared prefix + 32 own tokens | prefill (TTFT) s | cached prompt tokens |\n",
              static_cast<long long>(prefix_tokens));
  std::printf("|---|---:|---:|\n");
  std::printf("| first request (cold cache) | %.4f | 0 |\n", best.cold_s);
  std::printf("| second request, prefix caching off | %.4f | 0 |\n", best.uncached_s);
  std::printf("| second request, prefix from the cache | %.4f | %lld |\n", best.warm_s,
              static_cast<long long>(best.warm_cached));
  std::printf("speed-up of the cached prefill: %.1fx\n", best.uncached_s / std::max(best.warm_s, 1e-9));
  std::printf("\n| 16 such requests submitted at once | all first tokens after | prompt rows computed |\n");
  std::printf("|---|---:|---:|\n");
  std::printf("| prefix caching off | %.4f s | %lld |\n", best.burst_uncached_s,
              static_cast<long long>(best.burst_uncached_rows));
  std::printf("| prefix caching on (the shared prefix computed once) | %.4f s | %lld |\n", best.burst_s,
              static_cast<long long>(best.burst_rows));
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
