// ax-engine bench speed: prefill and decode speed of one model file on the CPU, measured the way
// llama.cpp's tools measure it, optionally side by side with them on the same file:
//  - one sequence (llama-bench): pp = one prompt of P tokens, tg = G single-token steps, each after
//    D tokens of context (--depth, default 0: from an empty cache; the context is not timed);
//  - --batch B (llama-batched-bench): B sequences each prefill a prompt of P tokens, then generate
//    G tokens together (aggregate tokens/s), the generation after the prompts.
//
//   ax-engine bench speed --model M.gguf --prompt-tokens 512 --gen-tokens 128 --threads 2 [--json]
//                         [--depth D] [--batch 16] [--repeat 3] [--peer llama.cpp]
//
// Decode is bound by memory bandwidth, so each decode row also prints the floor: the machine's
// measured read bandwidth divided by the bytes a token reads (weights + KV).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <random>

#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels/kernels.h"
#include "backend/kv_cache.h"
#include "bench/llama_cpp_build.h"
#include "cli/backend_options.h"
#include "cli/model_arg.h"
#include "cli/bench_subcommands.h"
#include "cli/cache_options.h"
#include "cli/llama_cpp_peer.h"
#include "model/model.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace ax::cli {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct SpeedOptions {
  std::string model;
  int64_t prompt_tokens = 512;
  int64_t gen_tokens = 128;
  int64_t batch = 1;
  int64_t depth = 0;
  KvType kv_type = KvType::F16;  // as the engine's default, and llama.cpp's
  BackendOptions backend;
  int repeat = 3;
  bool json = false;
  std::string peer;
};

struct SpeedResult {
  double prefill_tps = 0, decode_tps = 0, ttft_ms = 0;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Bytes a decode step must read from memory for the weights: every matrix once (the embedding only
// when it doubles as the output layer; a lookup reads one row), and of the routed experts only the
// top_k of num_experts one token picks.
double weight_bytes_per_token(const ModelSource& src, const ModelConfig& cfg) {
  double total = 0;
  const bool tied = src.find("lm_head.weight") == nullptr;
  const double expert_share =
      cfg.moe.num_experts > 0 ? static_cast<double>(cfg.moe.top_k) / static_cast<double>(cfg.moe.num_experts) : 1.0;
  for (const auto& [name, t] : src.tensors()) {
    if (name == "model.embed_tokens.weight" && !tied) continue;
    const bool routed = name.find(".mlp.experts.") != std::string::npos;
    total += static_cast<double>(t.nbytes) * (routed ? expert_share : 1.0);
  }
  return total;
}

class SpeedRunner {
 public:
  SpeedRunner(Model& model, const SpeedOptions& o) : model_(model), o_(o) {}

  // One pp + tg measurement, each on a fresh cache.
  SpeedResult run_once() {
    const auto& cfg = model_.config();
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(cfg.vocab_size - 1));
    SpeedResult r;

    {  // pp: one prompt after `depth` tokens of context.
      const int64_t blocks = blocks_for(o_.depth + o_.prompt_tokens + 1);
      KvCache kv(model_.backend(), model_.kv_shape(), blocks, kBlock, o_.kv_type, 1);
      std::vector<int32_t> table = identity_table(blocks, 0);
      prefill(kv, table, 0, 0, o_.depth, rng);
      const auto t0 = Clock::now();
      prefill(kv, table, 0, o_.depth, o_.prompt_tokens, rng);
      r.prefill_tps = o_.prompt_tokens / since(t0);
      // TTFT: the prefill plus choosing the first token (greedy).
      volatile int64_t first = std::max_element(logits_.begin(), logits_.end()) - logits_.begin();
      (void)first;
      r.ttft_ms = since(t0) * 1e3;
    }
    {  // tg: G steps of one token per sequence, after each sequence's context (not timed).
      const int64_t context = tg_context();
      const int64_t per_seq = blocks_for(context + o_.gen_tokens + 1);
      KvCache kv(model_.backend(), model_.kv_shape(), per_seq * o_.batch, kBlock, o_.kv_type, o_.batch);
      std::vector<std::vector<int32_t>> tables;
      for (int64_t s = 0; s < o_.batch; ++s) {
        tables.push_back(identity_table(per_seq, s * per_seq));
        prefill(kv, tables.back(), static_cast<int32_t>(s), 0, context, rng);
      }
      std::vector<int32_t> last(o_.batch);
      for (auto& t : last) t = tok(rng);
      const auto t0 = Clock::now();
      for (int64_t step = 0; step < o_.gen_tokens; ++step) {
        StepInput b(kBlock);
        for (int64_t s = 0; s < o_.batch; ++s) {
          b.add_sequence(std::span(&last[s], 1), context + step, tables[s], static_cast<int32_t>(s));
          b.add_logit_row(s);
        }
        logits_ = model_.backend().to_host(model_.forward(b, kv));
        for (int64_t s = 0; s < o_.batch; ++s) {  // greedy, as a real decode loop would
          const float* row = logits_.data() + s * cfg.vocab_size;
          last[s] = static_cast<int32_t>(std::max_element(row, row + cfg.vocab_size) - row);
        }
      }
      r.decode_tps = o_.batch * o_.gen_tokens / since(t0);
    }
    return r;
  }

  // Tokens of context before each sequence's first generated token: the prompt when batched (as
  // llama-batched-bench does), else --depth (as llama-bench -d).
  int64_t tg_context() const { return o_.batch > 1 ? o_.prompt_tokens : o_.depth; }

 private:
  // Random tokens at positions [start, start + count) of sequence 0 / the table, chunks of 512 (as
  // llama-bench's default ubatch); leaves the last position's logits in logits_.
  // state_slot: the sequence's recurrent-state slot (hybrid models).
  void prefill(KvCache& kv, const std::vector<int32_t>& table, int32_t state_slot, int64_t start, int64_t count,
               std::mt19937& rng) {
    std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(model_.config().vocab_size - 1));
    for (int64_t done = 0; done < count;) {
      const int64_t n = std::min<int64_t>(512, count - done);
      std::vector<int32_t> tokens(n);
      for (auto& t : tokens) t = tok(rng);
      StepInput b(kBlock);
      b.add_sequence(tokens, start + done, table, state_slot);
      b.add_logit_row(n - 1);
      logits_ = model_.backend().to_host(model_.forward(b, kv));
      done += n;
    }
  }

  static constexpr int64_t kBlock = 16;
  static int64_t blocks_for(int64_t tokens) { return (tokens + kBlock - 1) / kBlock; }
  static std::vector<int32_t> identity_table(int64_t n, int64_t first) {
    std::vector<int32_t> t(n);
    std::iota(t.begin(), t.end(), static_cast<int32_t>(first));
    return t;
  }
  Model& model_;
  const SpeedOptions& o_;
  std::span<const float> logits_;
};

int run_speed(const SpeedOptions& o) {
  auto backend = make_backend(o.backend);
  const bool gpu = backend->name() != "cpu";
  const int threads = default_threads();
  auto source = open_model(o.model);
  auto model = load_model(*source, *backend);
  const auto& cfg = model->config();
  const double wbytes = weight_bytes_per_token(*source, model->config());
  SpeedRunner runner(*model, o);
  // The longest sequence a test builds: context + prompt (pp), context + generated tokens (tg).
  const int64_t longest = std::max(o.depth + o.prompt_tokens, runner.tg_context() + o.gen_tokens);
  if (cfg.max_position_embeddings > 0 && longest > cfg.max_position_embeddings)
    fail("bench speed: the tests reach position {} but the model's context is {} tokens (lower --depth, "
         "--prompt-tokens or --gen-tokens)", longest, cfg.max_position_embeddings);
  // KV read per token at the middle of the tg run: K and V of every layer.
  const double kv_bytes = static_cast<double>(KvCache::bytes_per_block(model->kv_shape(), 1, o.kv_type)) *
                          (runner.tg_context() + o.gen_tokens / 2.0);
  std::vector<double> pp, tg, ttft, peer_pp, peer_tg;
  for (int rep = 0; rep < o.repeat; ++rep) {  // alternate the engines so drift hits both alike
    const SpeedResult r = runner.run_once();
    pp.push_back(r.prefill_tps);
    tg.push_back(r.decode_tps);
    ttft.push_back(r.ttft_ms);
    if (!o.peer.empty()) {
      const PeerResult p = o.batch > 1
                               ? run_llama_batched_bench(o.model, o.prompt_tokens, o.gen_tokens, o.batch, threads, gpu)
                               : run_llama_bench(o.model, o.prompt_tokens, o.gen_tokens, o.depth, threads, gpu);
      peer_pp.push_back(p.prefill_tps);
      peer_tg.push_back(p.decode_tps);
    }
  }
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  const double rss_mb = ru.ru_maxrss / 1024.0;  // read before the bandwidth probe's 1 GiB buffer
  const double bw = backend->measure_read_bandwidth_gbps();
  // With B sequences the weights are read once per step for all of them; KV per sequence.
  const double floor_tps = o.batch * bw * 1e9 / (wbytes + o.batch * kv_bytes);
  const double decode = median(tg), prefill = median(pp);
  const double gbps = decode / o.batch * wbytes / 1e9;  // steps/s x weight bytes per step
  const std::string peer_isa = o.peer.empty() ? "" : bench::llama_cpp_build_isa(llama_cpp_bin_dir(gpu));

  if (o.json) {
    std::printf("{\"model\": \"%s\", \"backend\": \"%s\", \"kernel_tier\": \"%s\", \"threads\": %d, \"batch\": %lld, \"depth\": %lld, \"prompt_tokens\": %lld, \"gen_tokens\": %lld, "
                "\"prefill_tokens_per_s\": %.2f, \"decode_tokens_per_s\": %.2f, \"ttft_ms\": %.2f, "
                "\"weight_gb_per_s\": %.2f, \"read_bandwidth_gb_per_s\": %.2f, \"decode_floor_tokens_per_s\": %.2f, "
                "\"decode_fraction_of_floor\": %.3f, \"peak_rss_mb\": %.1f",
                o.model.c_str(), backend->description().c_str(),
                gpu ? "" : cpu::kernels::kernel_tier().c_str(), threads, static_cast<long long>(o.batch), static_cast<long long>(o.depth),
                static_cast<long long>(o.prompt_tokens),
                static_cast<long long>(o.gen_tokens), prefill, decode, median(ttft), gbps, bw, floor_tps,
                decode / floor_tps, rss_mb);
    if (!o.peer.empty())
      std::printf(", \"peer\": \"llama.cpp\", \"peer_prefill_tokens_per_s\": %.2f, \"peer_decode_tokens_per_s\": %.2f, "
                  "\"prefill_ratio\": %.3f, \"decode_ratio\": %.3f, \"peer_isa\": \"%s\"",
                  median(peer_pp), median(peer_tg), prefill / median(peer_pp), decode / median(peer_tg), peer_isa.c_str());
    std::printf("}\n");
    return 0;
  }
  std::printf("model      %s (%s, %s)\n", o.model.c_str(), cfg.arch_name.c_str(), source->format().c_str());
  std::printf("cpu        %s, %d threads, %s\n", cpu::cpu_features().model_name.c_str(), threads,
              cpu::cpu_features().summary().c_str());
  std::printf("backend    %s\n", backend->description().c_str());
  if (!gpu) std::printf("kernels    %s\n", cpu::kernels::kernel_tier_description().c_str());
  if (!o.peer.empty())
    std::printf("llama.cpp  %s, built for %s\n", llama_cpp_bin_dir(gpu).c_str(), peer_isa.empty() ? "? (no CMakeCache.txt in the folder above)" : peer_isa.c_str());
  std::printf("weights    %.1f MB read per decode step; read bandwidth %.1f GB/s\n", wbytes / 1e6, bw);
  std::printf("%-12s %12s %12s %8s\n", "test", "ax tok/s", "llama.cpp", "ratio");
  auto row = [&](const char* name, double ours, const std::vector<double>& peer) {
    if (peer.empty()) {
      std::printf("%-12s %12.2f\n", name, ours);
    } else {
      std::printf("%-12s %12.2f %12.2f %8.3f\n", name, ours, median(peer), ours / median(peer));
    }
  };
  const std::string at = o.depth > 0 ? " @ d" + std::to_string(o.depth) : "";
  const std::string pp_name = "pp" + std::to_string(o.prompt_tokens) + at;
  const std::string tg_name = (o.batch > 1 ? "tg" + std::to_string(o.gen_tokens) + "x" + std::to_string(o.batch)
                                           : "tg" + std::to_string(o.gen_tokens)) + at;
  row(pp_name.c_str(), prefill, peer_pp);
  row(tg_name.c_str(), decode, peer_tg);
  std::printf("decode floor %.2f tok/s (ours at %.0f%% of it), weights streamed at %.2f GB/s\n", floor_tps,
              100.0 * decode / floor_tps, gbps);
  std::printf("ttft %.1f ms, peak RSS %.1f MB\n", median(ttft), rss_mb);
  return 0;
}

}  // namespace

BenchSubcommand add_bench_speed(CLI::App& bench) {
  auto o = std::make_shared<SpeedOptions>();
  CLI::App* speed = bench.add_subcommand("speed", "Prefill and decode tokens/s of a model file");
  speed->add_option("--model", o->model, "GGUF file, Hugging Face folder or pulled owner/name")
      ->required()
      ->transform(pulled_model_names());
  speed->add_option("--prompt-tokens,-p", o->prompt_tokens, "prompt length for the prefill test")->check(CLI::PositiveNumber);
  speed->add_option("--gen-tokens,-n", o->gen_tokens, "tokens generated in the decode test")->check(CLI::PositiveNumber);
  speed->add_option("--batch", o->batch, "sequences decoded together, each after its prompt (aggregate tokens/s)")
      ->check(CLI::PositiveNumber);
  speed->add_option("--depth,-d", o->depth, "tokens of context before the pp and tg tests (one sequence)")
      ->check(CLI::NonNegativeNumber);
  add_kv_type_option(*speed, o->kv_type);
  add_backend_options(*speed, o->backend);
  speed->add_option("--repeat,-r", o->repeat, "runs per engine (median reported)")->check(CLI::PositiveNumber);
  speed->add_flag("--json", o->json, "print one JSON object");
  speed->add_option("--peer", o->peer, "also run llama.cpp (llama-bench / llama-batched-bench) on the same file")
      ->check(CLI::IsMember({"llama.cpp"}));
  return {speed, [o] {
            if (o->depth > 0 && o->batch > 1)
              fail("bench speed: --depth is for one sequence; with --batch each sequence generates after its prompt");
            return run_speed(*o);
          }};
}

}  // namespace ax::cli
