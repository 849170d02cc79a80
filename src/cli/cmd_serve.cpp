// `ax-engine serve`: the OpenAI-compatible HTTP server.
//
// Start-up order: bind the socket first (so a port conflict fails fast and /health answers 503
// while loading), then load the model with progress on stderr, then mark the server ready.
// SIGINT/SIGTERM: stop taking requests, give in-flight ones --shutdown-grace seconds, cancel the
// rest, stop the engine, exit 0.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "cli/backend_options.h"
#include "cli/model_arg.h"
#include "cli/cache_options.h"
#include "cli/command.h"
#include "model/model.h"
#include "model/model_source.h"
#include "server/crash_report.h"
#include "server/http_server.h"
#include "server/model_watch.h"
#include "server/server_context.h"
#include "server/serving.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace ax::cli {
namespace {

using server::ServerOptions;
using server::ServingContext;

std::string default_model_name(const std::string& path) {
  std::filesystem::path p(path);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "dir/" -> "dir"
  return p.extension() == ".gguf" ? p.stem().string() : p.filename().string();
}

// Stage lines on stderr; on a terminal each stage rewrites one line with its elapsed time.
class LoadProgress {
 public:
  LoadProgress() : tty_(isatty(STDERR_FILENO)), t0_(std::chrono::steady_clock::now()) {}
  void stage(int i, int n, const std::string& what) {
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    if (tty_) std::fprintf(stderr, "\r\033[Kloading [%d/%d] %s (%.1fs)", i, n, what.c_str(), s);
    else std::fprintf(stderr, "loading [%d/%d] %s (%.1fs)\n", i, n, what.c_str(), s);
    std::fflush(stderr);
  }
  void done() {
    if (tty_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  bool tty_;
  std::chrono::steady_clock::time_point t0_;
};

int run_serve(ServerOptions o) {
  // Signals go to one waiting thread, never to the workers (set before any thread starts).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  server::install_fatal_signal_handlers();

  if (o.max_concurrent < 1) fail("--max-concurrent {} must be >= 1", o.max_concurrent);
  if (!std::filesystem::exists(o.model_path)) fail("--model {}: no such file or folder", o.model_path);

  ServingContext ctx;
  ctx.options = o;
  ctx.model_id = o.model_name.empty() ? default_model_name(o.model_path) : o.model_name;
  server::HttpServer http(ctx);
  http.bind();
  std::thread http_thread([&] { http.run(); });
  std::fprintf(stderr, "ax-engine serve: listening on http://%s:%d (model loading)\n", o.host.c_str(), http.port());

  // Shutdown: the signal thread flips the flags and stops the HTTP server after the grace period.
  std::mutex mu;
  std::condition_variable cv;
  bool stop_requested = false;
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    {
      std::lock_guard lock(mu);
      stop_requested = true;
    }
    cv.notify_all();
  });

  bool loaded = false;
  std::string load_error;
  try {
    LoadProgress progress;
    progress.stage(1, 4, "opening " + o.model_path);
    ctx.backend = make_backend(o.backend);
    ctx.source = open_model(o.model_path);
    progress.stage(2, 4, "weights to " + ctx.backend->description());
    ctx.model = load_model(*ctx.source, *ctx.backend);
    progress.stage(3, 4, "tokenizer");
    ctx.tokenizer = load_tokenizer_if_present(*ctx.source);
    if (!ctx.tokenizer)
      std::fprintf(stderr, "\nnote: %s has no tokenizer: serving token ids only (POST /v1/generate with "
                           "input_tokens); text routes answer 400\n", o.model_path.c_str());
    progress.stage(4, 4, "engine");
    server::start_engine(ctx);
    progress.done();
    loaded = true;
  } catch (const std::exception& e) {
    load_error = e.what();
  }
  if (!loaded) {
    std::fprintf(stderr, "\nerror: %s\n", load_error.c_str());
    std::fflush(stderr);
    // Nothing was served yet: exit at once (the HTTP and signal threads are parked in accept and
    // sigwait; the kernel closes the socket).
    std::_Exit(1);
  }
  // Model files changed under the server are noticed within seconds (model_watch.h).
  server::ModelFileWatch watch(ctx, std::chrono::seconds(2));
  ctx.ready = true;
  std::fprintf(stderr, "ax-engine serve: model '%s' ready on http://%s:%d/v1\n", ctx.model_id.c_str(), o.host.c_str(),
               http.port());
  if (ctx.chat_template && !ctx.chat_caps.tools)
    std::fprintf(stderr, "ax-engine serve: the chat template does not show tools; requests with tools get them "
                         "described in a system message\n");

  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return stop_requested; });
  }
  std::fprintf(stderr, "ax-engine serve: shutting down (%d requests in flight)\n", ctx.in_flight.load());
  ctx.shutting_down = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.shutdown_grace_s);
  while (ctx.in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ctx.cancel_all = true;
  http.stop();
  http_thread.join();
  signal_thread.join();
  server::stop_engine(ctx);
  std::fprintf(stderr, "ax-engine serve: stopped\n");
  return 0;
}

const RegisterCommand kServe{"serve", "OpenAI-compatible HTTP server (default http://127.0.0.1:8080/v1)", [](CLI::App& sub) {
  auto o = std::make_shared<ServerOptions>();
  o->model_path = default_model_path();
  sub.add_option("-m,--model", o->model_path, "Model: a .gguf file or a Hugging Face folder")->capture_default_str()->transform(pulled_model_names());
  sub.add_option("--model-name", o->model_name, "Model id reported by /v1/models (default: the file or folder name)");
  sub.add_option("--alias", o->model_aliases,
                 "Another name requests may give as \"model\" (repeatable); other names get 404 model_not_found");
  sub.add_option("--host", o->host, "Address to bind (loopback by default)")->capture_default_str();
  sub.add_option("--port", o->port, "Port to listen on (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  sub.add_option("--api-key", o->api_key, "Require 'Authorization: Bearer <key>' or 'x-api-key: <key>' (default: AX_API_KEY, else none)");
  sub.add_option("--max-body-size", o->max_body_bytes, "Largest request body in bytes")->capture_default_str();
  sub.add_option("--max-concurrent", o->max_concurrent, "Generation requests in flight at once; more get 429")
      ->capture_default_str();
  sub.add_option("--max-connections", o->max_connections, "Open connections at once; more get 503 and are closed")
      ->capture_default_str();
  sub.add_option("--header-timeout", o->head_timeout_s,
                 "Seconds a request's line and headers may take to arrive (also how long an idle connection stays open)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub.add_option("--body-timeout", o->body_timeout_s, "Seconds a request's body may take to arrive after its headers")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub.add_option("--write-timeout", o->write_timeout_s, "Seconds a client may take no response bytes before it is dropped")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub.add_option("--max-stored-responses", o->max_stored_responses,
                 "Responses kept for previous_response_id (least recently used dropped first)")
      ->capture_default_str();
  sub.add_option("--stored-responses-mb", o->stored_responses_mb, "Memory the kept responses may use, in MiB")
      ->capture_default_str();
  sub.add_flag("--log-requests", o->log_requests, "One access-log line per request on stderr");
  sub.add_flag("!--no-console", o->console, "Do not serve the web console at /");
  add_backend_options(sub, o->backend);
  sub.add_option("--kv-memory-mb", o->kv_memory_mb,
                 "Memory for the KV cache pool, MiB (default: 512 on the CPU; on a GPU --gpu-memory-fraction of "
                 "what is free after the weights)");
  add_kv_type_option(sub, o->kv_type);
  sub.add_option("--max-num-seqs", o->max_num_seqs, "Sequences batched in one step at most")->capture_default_str();
  sub.add_option("--shutdown-grace", o->shutdown_grace_s, "Seconds in-flight requests get to finish on SIGINT/SIGTERM")
      ->capture_default_str();
  sub.add_flag("!--no-speculation", o->default_speculation, "Turn n-gram speculation off unless a request asks for it");
  sub.add_option_function<std::string>(
         "--speculation", [o](const std::string& m) { o->default_speculation = m == "ngram"; },
         "Default for requests that do not say: ngram (draft from the context, verify in one pass) or off")
      ->check(CLI::IsMember({"ngram", "off"}))
      ->default_str("ngram");
  sub.add_option("--max-draft", o->default_max_draft, "Default draft tokens per step for n-gram speculation")
      ->check(CLI::Range(1, SpeculationParams::kMaxMaxDraft))
      ->capture_default_str();
  return [o]() {
    if (o->api_key.empty())
      if (const char* env = std::getenv("AX_API_KEY")) o->api_key = env;
    return run_serve(*o);
  };
}};

}  // namespace
}  // namespace ax::cli
