// N-gram speculation benchmark: effective decode speed with speculation vs without, on three
// workload kinds, and the measurements behind the defaults (row cost, drafting rules, k).
//
//   spec_bench [--model DIR_OR_GGUF]... [--threads 1] [--max-tokens 320] [--repeats 3]
//              [--max-draft 12] [--rows] [--study] [--batch N]...
//
// Workloads (prompts are built for the model's domain: Python for ax-code-15m, stories for
// stories260K):
//   (a) edit   — the prompt holds a source file (a story) and asks for it back with a small change;
//   (b) json   — structured records that repeat their keys, continued by the model;
//   (c) random — random prompt ids, sampling at temperature 1.
// (a) and (b) decode greedily; (c) samples with a fixed seed. Speculation is exact, so each pair
// of runs must give identical tokens (sampling included: the verifier draws exactly as plain
// decoding does); the bench checks it. Batch 1, one sequence straight over Model::forward
// (engine/spec_generate.h: the same verify step the engine runs).
//
// --rows   forward-pass time for r rows vs 1 row at a realistic context: the per-row cost the
//          gate's cost model uses, and why verifying k drafts in one pass is cheap.
// --study  replays the plain outputs through drafting rules and draft lengths (exact for these
//          runs: a draft token is accepted iff it is the token plain decoding produced there) and
//          prints the modelled speed-up of each, using the measured row costs.
// --batch N  N concurrent copies of each workload through the engine (continuous batching):
//          throughput with speculation vs without, where drafting backs off as the batch fills.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "engine/engine.h"
#include "engine/ngram_drafter.h"
#include "engine/spec_generate.h"
#include "backend/kv_cache.h"
#include "model/model.h"
#include "model/model_source.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace {

using namespace ax;

// ---- Workload texts (written for this benchmark) ----------------------------------------------

const char* kPythonFile = R"PY(import json
import os


class Inventory:
    """A small in-memory inventory of items with quantities and prices."""

    def __init__(self, path=None):
        self.path = path
        self.items = {}

    def add(self, name, quantity=1, price=0.0):
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        entry = self.items.setdefault(name, {"quantity": 0, "price": price})
        entry["quantity"] += quantity
        entry["price"] = price
        return entry

    def remove(self, name, quantity=1):
        entry = self.items.get(name)
        if entry is None:
            raise KeyError(name)
        if entry["quantity"] < quantity:
            raise ValueError("not enough %s in stock" % name)
        entry["quantity"] -= quantity
        if entry["quantity"] == 0:
            del self.items[name]

    def total_value(self):
        total = 0.0
        for name, entry in self.items.items():
            total += entry["quantity"] * entry["price"]
        return total

    def save(self):
        if self.path is None:
            raise ValueError("no path to save to")
        with open(self.path, "w") as f:
            json.dump(self.items, f, indent=2, sort_keys=True)

    def load(self):
        if self.path is None or not os.path.exists(self.path):
            return
        with open(self.path) as f:
            self.items = json.load(f)
)PY";

const char* kRecords = R"PY(SERVICES = [
    {"name": "auth", "host": "10.0.0.1", "port": 8001, "enabled": True, "replicas": 2},
    {"name": "billing", "host": "10.0.0.2", "port": 8002, "enabled": True, "replicas": 3},
    {"name": "catalog", "host": "10.0.0.3", "port": 8003, "enabled": False, "replicas": 1},
    {"name": "delivery", "host": "10.0.0.4", "port": 8004, "enabled": True, "replicas": 2},
    {"name": "email", "host": "10.0.0.5", "port": 8005, "enabled": True, "replicas": 1},
)PY";

const char* kStory =
    "Once upon a time, there was a little girl named Lily. She loved to play in the park with her "
    "red ball. One day, she saw a big dog near the tree. The dog was sad because he was lost. Lily "
    "gave the dog some water and a hug. Then she helped the dog find his home. The dog's mom was so "
    "happy. She said thank you to Lily. Lily felt proud and happy. From that day on, Lily and the "
    "dog were best friends.";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  return s;
}

struct Workload {
  std::string name;
  std::vector<int32_t> prompt;
  bool greedy = true;
};

std::vector<Workload> make_workloads(const ModelSource& src, const Tokenizer& tok, int64_t vocab) {
  std::vector<Workload> w;
  const bool code = src.config().arch_name == "qwen3";  // ax-code-15m; otherwise a stories model
  if (code) {
    // (a) the file, then a header asking for it again with one name changed; the model copies.
    const std::string file = kPythonFile;
    const std::string renamed = replace_all(file, "self.items", "self.stock");
    w.push_back({"a:edit", tok.encode("<|endoftext|># inventory.py\n" + file +
                                      "\n<|endoftext|># inventory.py (self.items renamed to self.stock)\n" +
                                      renamed.substr(0, renamed.find("class Inventory"))),
                 true});
    // (b) records with repeated keys; the model writes more of them.
    w.push_back({"b:json", tok.encode(std::string("<|endoftext|>") + kRecords), true});
  } else {
    const std::string story = kStory;
    w.push_back({"a:edit", tok.encode(story + " Now the same story, but the dog is a cat: " +
                                      replace_all(story.substr(0, 60), "dog", "cat")),
                 true});
    w.push_back({"b:json",
                 tok.encode("Tom said: \"I like the red ball.\" Lily said: \"I like the blue ball.\" "
                            "Tom said: \"I like the big tree.\" Lily said: \"I like the small tree.\" "
                            "Tom said: \"I like the"),
                 true});
  }
  // (c) random ids (no special tokens), sampled at temperature 1.
  std::mt19937_64 rng(20261126);
  Workload c{"c:random", {}, false};
  for (int i = 0; i < 64; ++i) c.prompt.push_back(3 + static_cast<int32_t>(rng() % (vocab - 3)));
  w.push_back(c);
  return w;
}

// ---- Runs ------------------------------------------------------------------------------------

SingleGenerateOptions run_options(const Workload& w, int64_t max_tokens, bool speculate, int max_draft) {
  SingleGenerateOptions o;
  o.max_tokens = max_tokens;
  o.ignore_eos = true;  // equal lengths for both runs
  o.sampling.temperature = w.greedy ? 0.0f : 1.0f;
  o.sampling.seed = 7;
  o.speculation.enabled = speculate;
  o.speculation.max_draft = max_draft;
  return o;
}

struct Timed {
  SingleGenerateResult result;
  double best_decode_s = 1e30;
};

Timed run(Model& model, const Workload& w, const SingleGenerateOptions& o, int repeats) {
  Timed t;
  for (int r = 0; r < repeats; ++r) {
    SingleGenerateResult res = generate_single(model, w.prompt, o);
    t.best_decode_s = std::min(t.best_decode_s, res.decode_s);
    t.result = std::move(res);
  }
  return t;
}

// Decode tokens per second: tokens after the first (which the prefill produced) over decode time.
double decode_rate(const Timed& t) {
  return (static_cast<double>(t.result.tokens.size()) - 1) / std::max(t.best_decode_s, 1e-9);
}

// ---- Batched, through the engine --------------------------------------------------------------

struct BatchRun {
  double seconds = 0;  // submit to last finish (prefill included: it shares steps with decode)
  int64_t tokens = 0;
  std::vector<std::vector<int32_t>> outputs;
  EngineMetrics metrics;
};

// `batch` copies of the workload at once (sampled copies get different seeds).
BatchRun run_batch(Model& model, const Workload& w, int64_t max_tokens, bool speculate, int max_draft, int batch) {
  EngineConfig cfg;
  cfg.max_num_seqs = batch;
  cfg.num_kv_blocks = batch * ((static_cast<int64_t>(w.prompt.size()) + max_tokens + 32) / 16 + 2);
  Engine engine(model, nullptr, cfg);
  std::vector<RequestHandle> hs;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < batch; ++i) {
    Request r;
    r.prompt = w.prompt;
    r.stop.max_tokens = max_tokens;
    r.stop.ignore_eos = true;
    r.sampling.temperature = w.greedy ? 0.0f : 1.0f;
    r.sampling.seed = 100 + i;
    r.speculation.enabled = speculate;
    r.speculation.max_draft = max_draft;
    hs.push_back(engine.submit(r));
  }
  engine.run_until_idle();
  BatchRun b;
  b.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  b.metrics = engine.metrics();
  for (auto& h : hs) {
    std::vector<int32_t> out;
    while (auto e = h.events->try_pop())
      if (e->kind == EventKind::Token)
        for (const auto& t : e->tokens) out.push_back(t.id);
    b.tokens += static_cast<int64_t>(out.size());
    b.outputs.push_back(std::move(out));
  }
  return b;
}

// ---- Row cost --------------------------------------------------------------------------------

// Seconds of one forward pass of `rows` new tokens after `context` cached ones (best of reps).
double forward_seconds(Model& model, int64_t context, int64_t rows, int reps) {
  const ModelConfig& cfg = model.config();
  const int64_t bs = 16, total = context + rows;
  Backend& be = model.backend();
  KvCache kv(be, model.kv_shape(), (total + bs - 1) / bs, bs);
  std::vector<int32_t> table(kv.num_blocks());
  std::iota(table.begin(), table.end(), 0);
  std::mt19937 rng(1);
  std::vector<int32_t> prompt;
  for (int64_t i = 0; i < context; ++i) prompt.push_back(3 + static_cast<int32_t>(rng() % (cfg.vocab_size - 3)));
  StepInput b(bs);
  b.add_sequence(prompt, 0, table);
  b.add_logit_row(context - 1);
  be.to_host(model.forward(b, kv));
  double best = 1e30;
  const std::vector<int32_t> new_rows(rows, 5);
  for (int r = 0; r < reps; ++r) {
    b.clear();
    b.add_sequence(new_rows, context, table);
    for (int64_t i = 0; i < rows; ++i) b.add_logit_row(i);
    const auto t0 = std::chrono::steady_clock::now();
    be.to_host(model.forward(b, kv));
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

// ---- Drafting-rule study -----------------------------------------------------------------------

struct Rule {
  std::string name;
  NgramDraftOptions options;
};

std::vector<Rule> study_rules() {
  std::vector<Rule> rules;
  NgramDraftOptions o;
  o.max_len_for_n[2] = 64;
  rules.push_back({"n4..2 longest, full k", o});
  o = {};
  o.min_n = 3;
  rules.push_back({"n4..3 only", o});
  rules.push_back({"n=2 drafts <= 2 (default)", {}});
  o = {};
  o.resync_after_rejection = true;
  rules.push_back({"default + resync after a rejection", o});
  o = {};
  o.max_len_for_n[2] = 4;
  o.max_len_for_n[3] = 8;
  rules.push_back({"cap 4/8/k by n=2/3/4", o});
  o = {};
  o.max_len_for_n[2] = 64;
  o.require_agreement_up_to_n = 2;
  rules.push_back({"n=2 needs agreement", o});
  o.require_agreement_up_to_n = 3;
  rules.push_back({"n<=3 needs agreement", o});
  o = {};
  o.min_n = 1;
  o.max_len_for_n[1] = 2;
  rules.push_back({"+ unigram, drafts <= 2", o});
  return rules;
}

struct Replay {
  int64_t tokens = 0, steps = 0, rows = 0, drafted = 0, accepted = 0;
};

// Replays `out` (the tokens plain decoding produced after `prompt`) with a drafter: each step
// drafts up to k tokens, accepts the prefix that matches `out`, emits one more.
Replay replay(const std::vector<int32_t>& prompt, const std::vector<int32_t>& out, const NgramDraftOptions& o, int k) {
  NgramDrafter d(o);
  d.reset(prompt);
  d.append(out[0]);  // the prefill's token
  Replay r;
  std::vector<int32_t> draft;
  size_t t = 1;
  while (t < out.size()) {
    const int cap = static_cast<int>(std::min<size_t>(k, out.size() - t - 1));
    d.draft(cap, draft);
    size_t acc = 0;
    while (acc < draft.size() && draft[acc] == out[t + acc]) ++acc;
    if (!draft.empty()) d.verified(static_cast<int>(draft.size()), static_cast<int>(acc));
    const size_t emit = acc + 1;
    for (size_t i = 0; i < emit; ++i) d.append(out[t + i]);
    r.steps += 1;
    r.rows += 1 + static_cast<int64_t>(draft.size());
    r.drafted += static_cast<int64_t>(draft.size());
    r.accepted += static_cast<int64_t>(acc);
    t += emit;
  }
  r.tokens = static_cast<int64_t>(out.size()) - 1;
  return r;
}

// Modelled decode time of a replay: each step costs time(rows) from the measured row costs.
double modelled_time(const Replay& r, const std::vector<double>& cost_by_rows) {
  const double mean_rows = static_cast<double>(r.rows) / std::max<int64_t>(r.steps, 1);
  // Interpolate the per-step cost at the mean row count (costs are near-linear in rows).
  const size_t lo = std::min<size_t>(static_cast<size_t>(mean_rows), cost_by_rows.size() - 2);
  const double frac = std::min(1.0, mean_rows - lo);
  const double step = cost_by_rows[lo] + frac * (cost_by_rows[lo + 1] - cost_by_rows[lo]);
  return r.steps * step;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"N-gram speculative decoding benchmark"};
  std::vector<std::string> models;
  int threads = 1, repeats = 3, max_draft = SpeculationParams::kDefaultMaxDraft;
  int64_t max_tokens = 320;
  bool rows = false, study = false;
  std::vector<int> batches;
  app.add_option("-m,--model", models, "Model folder or .gguf (repeatable)");
  app.add_option("-t,--threads", threads, "CPU threads")->capture_default_str();
  app.add_option("-n,--max-tokens", max_tokens, "Tokens generated per run")->capture_default_str();
  app.add_option("--repeats", repeats, "Runs per configuration (best time kept)")->capture_default_str();
  app.add_option("-k,--max-draft", max_draft, "Draft tokens per step at most")->capture_default_str();
  app.add_flag("--rows", rows, "Measure forward time vs rows per pass");
  app.add_flag("--study", study, "Replay outputs through drafting rules and draft lengths");
  app.add_option("--batch", batches, "Also run N concurrent copies of each workload through the engine (repeatable)");
  CLI11_PARSE(app, argc, argv);
  // The models bundled in the repository (run from the repository root).
  if (models.empty()) models = {"models/ax-code-15m", "models/stories260K/stories260K.gguf"};
  try {
    auto backend = make_backend({.kind = "cpu", .threads = threads});
    for (const std::string& path : models) {
      auto src = open_model(path);
      auto model = load_model(*src, *backend);
      auto tok = load_tokenizer(*src);
      const int64_t vocab = model->config().vocab_size;
      std::printf("\n== %s (%s, %d thread%s) ==\n", path.c_str(), src->config().arch_name.c_str(), threads,
                  threads == 1 ? "" : "s");

      // Per-step cost by rows (1..33), relative to one row, at a 400-token context.
      std::vector<double> cost_by_rows;
      if (rows || study) {
        std::printf("forward time vs rows (context 400):\n  rows   ms    x 1-row\n");
        const double one = forward_seconds(*model, 400, 1, 5);
        cost_by_rows.push_back(0.0);
        for (int r = 1; r <= 33; ++r) {
          const double s = (r == 1) ? one : forward_seconds(*model, 400, r, 3);
          cost_by_rows.push_back(s / one);
          if (r == 1 || r == 2 || r == 3 || r == 5 || r == 9 || r == 17 || r == 33)
            std::printf("  %4d %6.2f  %6.2f\n", r, s * 1e3, s / one);
        }
      }

      const auto workloads = make_workloads(*src, *tok, vocab);
      std::printf("%-9s %6s %9s %9s %7s %9s %8s %9s %8s %s\n", "workload", "tokens", "plain t/s", "spec t/s",
                  "speedup", "acc/step", "tok/fwd", "accept%", "rowcost", "identical");
      std::map<std::string, SingleGenerateResult> plain_outputs;
      for (const Workload& w : workloads) {
        // Alternate plain and speculative runs, so drifts of the machine hit both alike.
        Timed plain, spec;
        for (int r = 0; r < repeats; ++r) {
          const Timed p = run(*model, w, run_options(w, max_tokens, false, max_draft), 1);
          const Timed q = run(*model, w, run_options(w, max_tokens, true, max_draft), 1);
          if (p.best_decode_s < plain.best_decode_s) plain = p;
          if (q.best_decode_s < spec.best_decode_s) spec = q;
        }
        const SpecMetrics& m = spec.result.speculation;
        const double tok_per_fwd = (spec.result.tokens.size() - 1.0) / std::max<int64_t>(spec.result.forward_steps, 1);
        std::printf("%-9s %6zu %9.1f %9.1f %6.2fx %9.2f %8.2f %8.1f%% %8.3f %s\n", w.name.c_str(),
                    spec.result.tokens.size(), decode_rate(plain), decode_rate(spec),
                    decode_rate(spec) / decode_rate(plain), m.mean_accepted_length(), tok_per_fwd,
                    100 * m.acceptance_rate(), spec.result.row_cost,
                    spec.result.tokens == plain.result.tokens ? "yes" : "NO");
        plain_outputs[w.name] = plain.result;
      }
      for (int batch : batches) {
        std::printf("engine, %d concurrent requests per workload (throughput incl. prefill):\n", batch);
        std::printf("  %-9s %10s %10s %7s %9s %9s %s\n", "workload", "plain t/s", "spec t/s", "speedup", "drafted",
                    "accepted", "identical");
        for (const Workload& w : workloads) {
          BatchRun plain, spec;
          double plain_s = 1e30, spec_s = 1e30;
          for (int r = 0; r < repeats; ++r) {
            plain = run_batch(*model, w, max_tokens, false, max_draft, batch);
            plain_s = std::min(plain_s, plain.seconds);
            spec = run_batch(*model, w, max_tokens, true, max_draft, batch);
            spec_s = std::min(spec_s, spec.seconds);
          }
          std::printf("  %-9s %10.1f %10.1f %6.2fx %9lld %9lld %s\n", w.name.c_str(), plain.tokens / plain_s,
                      spec.tokens / spec_s, plain_s / spec_s,
                      static_cast<long long>(spec.metrics.speculation.drafted_tokens),
                      static_cast<long long>(spec.metrics.speculation.accepted_tokens),
                      spec.outputs == plain.outputs ? "yes" : "NO");
        }
      }
      if (study) {
        std::printf("drafting-rule study (replay of the plain outputs; modelled speed-up with the row costs above):\n");
        std::printf("  %-24s %4s", "rule", "k");
        for (const Workload& w : workloads) std::printf(" %18s", w.name.c_str());
        std::printf("\n");
        auto line = [&](const Rule& rule, int k) {
          std::printf("  %-24s %4d", rule.name.c_str(), k);
          for (const Workload& w : workloads) {
            const auto& out = plain_outputs[w.name].tokens;
            const Replay r = replay(w.prompt, out, rule.options, k);
            const double speed = r.tokens / modelled_time(r, cost_by_rows);
            std::printf("   %5.2fx acc %5.1f%%", speed, 100.0 * r.accepted / std::max<int64_t>(r.drafted, 1));
          }
          std::printf("\n");
        };
        for (const Rule& rule : study_rules()) line(rule, max_draft);
        for (int k : {2, 4, 8, 12, 16, 24, 31}) line(study_rules()[2], k);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "spec_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
