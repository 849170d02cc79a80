// `ax-engine chat`: an interactive, streaming conversation on stdin/stdout.
//
// Each user line is appended to the conversation, the whole conversation is rendered with the
// model's own chat template (tokenizer/chat_prompt.h) and submitted to the engine as one request;
// the reply streams out as the engine's events arrive and joins the conversation. Every turn's
// prompt starts with the previous turn's prompt and reply, so the engine's prefix cache finds their
// K/V blocks and only the new suffix is prefilled (--stats shows how many prompt tokens were
// cached). The engine is stepped on this thread; no other thread is involved.
//
// Lines: "/exit" (or end of input) quits, "/reset" forgets the conversation (the --system message
// stays). Works with stdin piped, one user message per line.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>

#include "cli/backend_options.h"
#include "cli/model_arg.h"
#include "cli/cache_options.h"
#include "cli/command.h"
#include "cli/sampling_options.h"
#include "engine/engine.h"
#include "engine/sampler.h"
#include "model/model.h"
#include "model/model_source.h"
#include "tokenizer/chat_prompt.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace ax::cli {
namespace {

using nlohmann::ordered_json;

struct ChatOptions {
  std::string model;
  std::string system;
  int64_t max_tokens = 512;
  SamplingParams sampling;
  bool seed_given = false;
  BackendOptions backend;
  KvType kv_type = KvType::F16;
  bool chatml_fallback = false;
  bool stats = false;
};

// Ctrl-C while a reply streams stops that reply (the conversation goes on); at the prompt it quits
// as usual, because the handler is only installed while generating.
volatile std::sig_atomic_t g_interrupted = 0;
void on_sigint(int) { g_interrupted = 1; }

struct TurnResult {
  std::string reply;
  FinishReason reason = FinishReason::Stop;
  std::string error;
  RequestMetrics metrics;
};

// Submits one request, steps the engine until it finishes and prints its text as it comes.
TurnResult run_turn(Engine& engine, Request request) {
  TurnResult out;
  RequestHandle h = engine.submit(std::move(request));
  g_interrupted = 0;
  auto previous = std::signal(SIGINT, on_sigint);
  bool cancel_sent = false;
  for (;;) {
    if (g_interrupted && !cancel_sent) {
      engine.cancel(h.id);
      cancel_sent = true;
    }
    const bool worked = engine.step();
    bool finished = false;
    while (std::optional<Event> e = h.events->try_pop()) {
      if (e->kind == EventKind::Token) {
        std::fwrite(e->text.data(), 1, e->text.size(), stdout);
        std::fflush(stdout);
        out.reply += e->text;
      } else {
        out.reason = e->reason;
        out.error = e->error;
        out.metrics = e->metrics;
        finished = true;
      }
    }
    if (finished) break;
    if (!worked) fail("chat: the engine went idle before the reply finished");
  }
  std::signal(SIGINT, previous);
  return out;
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  const size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

int run_chat(ChatOptions o) {
  if (!o.seed_given) o.sampling.seed = std::random_device{}();
  if (o.max_tokens < 1) fail("--max-tokens {} must be at least 1", o.max_tokens);

  auto backend = make_backend(o.backend);
  auto source = open_model(o.model);
  auto model = load_model(*source, *backend);
  auto tok = load_tokenizer(*source);
  validate(o.sampling, model->config().vocab_size);

  const std::string tpl = tok->chat_template();
  if (tpl.empty() && !o.chatml_fallback)
    fail("chat: the model {} has no chat template; pass --chatml-fallback to use the plain ChatML layout "
         "(<|im_start|>role ... <|im_end|>)", o.model);
  std::unique_ptr<ChatPrompt> prompt;
  try {
    prompt = std::make_unique<ChatPrompt>(*tok, tpl);
  } catch (const Error& e) {
    if (!o.chatml_fallback)
      fail("chat: the model's chat template cannot be used ({}); pass --chatml-fallback to use the plain "
           "ChatML layout instead", e.what());
    std::fprintf(stderr, "note: the model's chat template cannot be used (%s); using ChatML\n", e.what());
    prompt = std::make_unique<ChatPrompt>(*tok, "");
  }

  // One conversation at a time: the KV pool holds one full-context sequence, and the blocks of the
  // previous turn stay in the prefix cache until the next turn takes them.
  EngineConfig ec;
  ec.max_num_seqs = 1;
  ec.kv_type = o.kv_type;
  Engine engine(*model, tok.get(), ec);
  const int64_t capacity = engine.sequence_capacity();

  const bool interactive = isatty(fileno(stdin));
  if (interactive)
    std::fprintf(stderr, "chat: %s (%s); /reset clears the conversation, /exit or Ctrl-D quits, Ctrl-C stops a reply\n",
                 o.model.c_str(), prompt->uses_chatml() ? "ChatML layout" : "the model's chat template");

  ordered_json system = ordered_json::array();
  if (!o.system.empty()) system.push_back({{"role", "system"}, {"content", o.system}});
  ordered_json messages = system;
  int64_t turn = 0;
  std::string line;
  for (;;) {
    if (interactive) {
      std::fputs("> ", stdout);
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) break;
    const std::string text = trim(line);
    if (text.empty()) continue;
    if (text == "/exit" || text == "/quit") break;
    if (text == "/reset") {
      messages = system;
      std::fprintf(stderr, "(conversation cleared)\n");
      continue;
    }

    messages.push_back({{"role", "user"}, {"content", text}});
    std::vector<int32_t> ids;
    try {
      ids = prompt->encode(messages);
    } catch (const Error& e) {
      // The message stays out of the conversation, which remains renderable.
      messages.erase(messages.end() - 1);
      std::fprintf(stderr, "error: %s\n", e.what());
      continue;
    }
    const int64_t n_prompt = static_cast<int64_t>(ids.size());
    if (n_prompt + 1 > capacity) {
      messages.erase(messages.end() - 1);
      std::fprintf(stderr, "error: the conversation is %lld tokens and no longer fits the context of %lld; /reset "
                           "to start over\n", static_cast<long long>(n_prompt), static_cast<long long>(capacity - 1));
      continue;
    }

    Request r;
    r.prompt = std::move(ids);
    r.sampling = o.sampling;
    r.sampling.seed = o.sampling.seed + static_cast<uint64_t>(turn);  // turns differ, runs repeat
    r.stop.max_tokens = std::min(o.max_tokens, capacity - n_prompt);
    r.stop.stop_strings = prompt->stop_strings();
    const TurnResult t = run_turn(engine, std::move(r));
    std::fputs("\n", stdout);
    std::fflush(stdout);
    ++turn;

    if (t.reason == FinishReason::Error) {
      messages.erase(messages.end() - 1);
      std::fprintf(stderr, "error: %s\n", t.error.c_str());
      continue;
    }
    messages.push_back({{"role", "assistant"}, {"content", t.reply}});
    if (t.reason == FinishReason::Length)
      std::fprintf(stderr, "(reply cut at %lld tokens)\n", static_cast<long long>(t.metrics.completion_tokens));
    if (t.reason == FinishReason::Cancelled) std::fprintf(stderr, "(reply stopped)\n");
    if (o.stats)
      std::fprintf(stderr, "turn %lld: prompt %lld tokens (%lld cached) | reply %lld tokens, %.1f tokens/s | stop: %s\n",
                   static_cast<long long>(turn), static_cast<long long>(t.metrics.prompt_tokens),
                   static_cast<long long>(t.metrics.cached_tokens), static_cast<long long>(t.metrics.completion_tokens),
                   t.metrics.decode_tokens_per_s, to_string(t.reason));
  }
  if (interactive) std::fputs("\n", stdout);
  return 0;
}

const RegisterCommand kChat{
    "chat", "Interactive chat with a model, using its own chat template (reads lines from stdin)", [](CLI::App& sub) {
      auto o = std::make_shared<ChatOptions>();
      o->model = default_model_path();
      sub.add_option("-m,--model", o->model, "Model: a .gguf file, a Hugging Face folder or a pulled owner/name")
          ->capture_default_str()
          ->transform(pulled_model_names());
      sub.add_option("-s,--system", o->system, "System message that starts the conversation");
      sub.add_option("-n,--max-tokens", o->max_tokens, "Tokens per reply at most")->capture_default_str();
      add_sampling_options(sub, o->sampling);
      sub.add_option_function<uint64_t>("--seed", [o](uint64_t s) { o->sampling.seed = s; o->seed_given = true; },
                                        "Random seed of the first reply (each later reply uses the next one)");
      add_backend_options(sub, o->backend);
      add_kv_type_option(sub, o->kv_type);
      sub.add_flag("--chatml-fallback", o->chatml_fallback,
                   "Use the plain ChatML layout when the model has no usable chat template");
      sub.add_flag("--stats", o->stats, "After each reply, print prompt/cached/generated tokens and speed to stderr");
      return [o]() { return run_chat(*o); };
    }};

}  // namespace
}  // namespace ax::cli
