// `ax-engine generate`: one prompt, streamed continuation, speed on stderr.
//
// A single-sequence loop straight over Model::forward with its own KV cache (engine/spec_generate.h):
// prefill the whole prompt in one step, then one token per step, or with n-gram speculation (on by
// default, same output) several. (The engine's scheduler serves many requests; this command needs
// none of it.)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <random>
#include <sstream>

#include "backend/kv_cache.h"
#include "cli/backend_options.h"
#include "cli/model_arg.h"
#include "cli/cache_options.h"
#include "cli/command.h"
#include "cli/sampling_options.h"
#include "engine/sampler.h"
#include "engine/spec_generate.h"
#include "engine/spec_sequence.h"
#include "model/model.h"
#include "model/model_source.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace ax::cli {
namespace {

struct GenerateOptions {
  std::string model;
  std::string prompt;
  std::string prompt_ids;  // "1,403,407": token ids instead of text
  int64_t max_tokens = 256;
  SamplingParams sampling;
  bool seed_given = false;
  BackendOptions backend;
  KvType kv_type = KvType::F16;
  bool ignore_eos = false;
  bool echo = true;
  SpeculationParams speculation;
};

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      const long v = std::stol(item, &used);
      if (used != item.size() || v < 0 || v > INT32_MAX) throw std::invalid_argument(item);
      ids.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      fail("--prompt-ids: '{}' is not a token id (expected comma-separated non-negative integers)", item);
    }
  }
  return ids;
}

int run_generate(GenerateOptions o) {
  if (!o.seed_given) o.sampling.seed = std::random_device{}();
  if (o.max_tokens < 0) fail("--max-tokens {} must be >= 0", o.max_tokens);

  auto backend = make_backend(o.backend);
  auto source = open_model(o.model);
  auto model = load_model(*source, *backend);
  const ModelConfig& cfg = model->config();
  // With --prompt-ids the tokenizer is optional: without one, output is printed as token ids.
  std::unique_ptr<Tokenizer> tok;
  try {
    tok = load_tokenizer(*source);
  } catch (const Error& e) {
    if (o.prompt_ids.empty()) throw;
    std::fprintf(stderr, "note: no tokenizer (%s); printing token ids\n", e.what());
  }

  std::vector<int32_t> prompt;
  if (!o.prompt_ids.empty()) {
    prompt = parse_ids(o.prompt_ids);
  } else {
    prompt = tok->encode(o.prompt, /*add_special=*/true, /*parse_special=*/true);
  }
  if (prompt.empty()) fail("--prompt: the prompt encodes to no tokens; give some text or --prompt-ids");
  for (int32_t id : prompt)
    if (id >= cfg.vocab_size) fail("--prompt-ids: token {} is outside the vocabulary of {}", id, cfg.vocab_size);

  // Context: prompt + generated tokens, capped by the model's trained context.
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  if (cfg.max_position_embeddings > 0 && n_prompt >= cfg.max_position_embeddings)
    fail("--prompt: {} tokens do not fit the model's context of {}", n_prompt, cfg.max_position_embeddings);
  std::vector<int32_t> eos(cfg.eos_token_ids.begin(), cfg.eos_token_ids.end());
  if (tok)
    for (int32_t id : tok->eos_ids())
      if (std::find(eos.begin(), eos.end(), id) == eos.end()) eos.push_back(id);

  std::unique_ptr<StreamDecoder> dec;
  if (tok) dec = std::make_unique<StreamDecoder>(*tok, /*skip_special=*/true);
  auto emit = [&](int32_t id, bool print) {
    if (!dec) {
      std::printf("%d ", id);
    } else {
      const std::string text = dec->push(id);  // always pushed, so spacing follows the whole text
      if (print) std::fwrite(text.data(), 1, text.size(), stdout);
    }
    std::fflush(stdout);
  };
  for (int32_t id : prompt) emit(id, o.echo);

  // Prefill the whole prompt in one step, then decode; with speculation each step verifies the
  // n-gram draft [last, d1..dk] in one forward pass (engine/spec_generate.h). The output is the
  // same either way.
  SingleGenerateOptions g;
  g.max_tokens = o.max_tokens;
  g.eos_ids = eos;
  g.ignore_eos = o.ignore_eos;
  g.sampling = o.sampling;
  g.speculation = o.speculation;
  g.kv_type = o.kv_type;
  validate(g.speculation);
  const SingleGenerateResult r = generate_single(*model, prompt, g, [&](std::span<const int32_t> step) {
    for (int32_t id : step)
      if (o.ignore_eos || std::find(eos.begin(), eos.end(), id) == eos.end()) emit(id, true);
  });
  const double prefill_s = r.prefill_s, decode_s = r.decode_s;
  const int64_t generated = static_cast<int64_t>(r.tokens.size());
  const std::string stop_reason = r.stopped_at_eos ? "end of sequence"
                                  : generated < o.max_tokens ? "context full"
                                                             : "max tokens";
  if (dec) {
    const std::string rest = dec->flush();
    std::fwrite(rest.data(), 1, rest.size(), stdout);
  }
  std::printf("\n");
  std::fflush(stdout);
  std::fprintf(stderr,
               "prompt: %lld tokens, %.1f tokens/s | generated: %lld tokens, %.1f tokens/s | stop: %s | seed %llu\n",
               static_cast<long long>(n_prompt), n_prompt / std::max(prefill_s, 1e-9),
               static_cast<long long>(generated), generated / std::max(decode_s, 1e-9), stop_reason.c_str(),
               static_cast<unsigned long long>(o.sampling.seed));
  if (o.speculation.enabled)
    std::fprintf(stderr, "speculation: %lld of %lld drafted tokens accepted, %.2f tokens per decode step\n",
                 static_cast<long long>(r.speculation.accepted_tokens),
                 static_cast<long long>(r.speculation.drafted_tokens),
                 r.forward_steps ? (generated - 1.0) / r.forward_steps : 0.0);
  return 0;
}

const RegisterCommand kGenerate{
    "generate", "Generate text from a prompt, streamed to stdout (speed on stderr)", [](CLI::App& sub) {
      auto o = std::make_shared<GenerateOptions>();
      o->model = default_model_path();
      sub.add_option("-m,--model", o->model, "Model: a .gguf file, a Hugging Face folder or a pulled owner/name")
          ->capture_default_str()
          ->transform(pulled_model_names());
      sub.add_option("-p,--prompt", o->prompt, "Prompt text");
      sub.add_option("--prompt-ids", o->prompt_ids, "Prompt as comma-separated token ids (instead of --prompt)");
      sub.add_option("-n,--max-tokens", o->max_tokens, "Tokens to generate at most")->capture_default_str();
      add_sampling_options(sub, o->sampling);
      sub.add_option_function<uint64_t>("--seed", [o](uint64_t s) { o->sampling.seed = s; o->seed_given = true; },
                                        "Random seed (default: a fresh one, printed at the end)");
      add_backend_options(sub, o->backend);
      add_kv_type_option(sub, o->kv_type);
      sub.add_flag("--ignore-eos", o->ignore_eos, "Keep generating past end-of-sequence tokens");
      sub.add_flag("!--no-echo", o->echo, "Do not print the prompt before the continuation");
      sub.add_option_function<std::string>(
             "--speculation", [o](const std::string& m) { o->speculation.enabled = m == "ngram"; },
             "Speculative decoding: ngram (draft from the context, verify in one pass) or off; the output is the same")
          ->check(CLI::IsMember({"ngram", "off"}))
          ->default_str("ngram");
      sub.add_option("--max-draft", o->speculation.max_draft, "Draft tokens per step at most (speculation)")
          ->check(CLI::Range(1, SpeculationParams::kMaxMaxDraft))
          ->capture_default_str();
      return [o]() {
        if (o->prompt.empty() == o->prompt_ids.empty()) fail("generate: give exactly one of --prompt and --prompt-ids");
        return run_generate(*o);
      };
    }};

}  // namespace
}  // namespace ax::cli
