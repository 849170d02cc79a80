#include "bench/bench_run.h"

#include "backend/backend.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "bench/artifacts.h"
#include "bench/checks.h"
#include "bench/http_transport.h"
#include "bench/json_fields.h"
#include "bench/machine.h"
#include "bench/run_metrics.h"
#include "bench/workload.h"
#include "hub/digest.h"
#include "model/model.h"
#include "model/model_source.h"
#include "tokenizer/tokenizer.h"
#include "util/thread_pool.h"

namespace ax::bench {

namespace fs = std::filesystem;
using nlohmann::json;

using hub::sha256_file;
using hub::sha256_string;

namespace {

// A one-line progress bar on stderr, redrawn in place (terminals only).
class ProgressBar {
 public:
  ProgressBar(bool enabled, std::string label) : on_(enabled && isatty(STDERR_FILENO)), label_(std::move(label)) {}
  void update(size_t done, size_t total) {
    if (!on_ || (done == last_ && total == total_)) return;
    last_ = done, total_ = total;
    const int width = 30, fill = total ? static_cast<int>(width * done / total) : width;
    std::fprintf(stderr, "\r%s [%s%s] %zu/%zu requests", label_.c_str(), std::string(fill, '#').c_str(),
                 std::string(width - fill, '.').c_str(), done, total);
    std::fflush(stderr);
  }
  ~ProgressBar() {
    if (on_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  bool on_;
  std::string label_;
  size_t last_ = SIZE_MAX, total_ = 0;
};

json model_json(const ModelSource& src, const std::string& path, const std::string& digest) {
  std::error_code ec;
  uintmax_t bytes = 0;
  if (fs::is_directory(path, ec)) {
    for (const auto& e : fs::recursive_directory_iterator(path, ec))
      if (e.is_regular_file()) bytes += e.file_size();
  } else {
    bytes = fs::file_size(path, ec);
  }
  json j = {{"path", fs::absolute(path).lexically_normal().string()}, {"format", src.format()},
            {"architecture", src.config().arch_name}, {"bytes", bytes},
            {"context", src.config().max_position_embeddings}, {"vocab_size", src.config().vocab_size}};
  if (!digest.empty()) j["sha256"] = digest;
  return j;
}

}  // namespace

std::string model_digest(const std::string& path) {
  if (!fs::is_directory(path)) return sha256_file(path);
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(path))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::string lines;
  for (const auto& f : files) lines += fs::relative(f, path).generic_string() + " " + sha256_file(f) + "\n";
  return sha256_string(lines);
}

class ModelCache {
 public:
  // The source and tokenizer of path; the model too (on a backend of `kind` with `threads`) when
  // `weights`.
  void load(const std::string& path, bool weights, const std::string& kind, int threads) {
    if (path != path_ || (weights && (kind != kind_ || threads != threads_))) {
      model_.reset();
      tokenizer_.reset();
      backend_.reset();
      source_ = open_model(path);
      tokenizer_ = load_tokenizer(*source_);
      path_ = path;
    }
    if (weights && !model_) {
      backend_ = make_backend({.kind = kind, .threads = threads});
      kind_ = kind;
      threads_ = threads;
      model_ = load_model(*source_, *backend_);
    }
  }
  const ModelSource& source() const { return *source_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  Model& model() { return *model_; }
  const Backend& backend() const { return *backend_; }

 private:
  std::string path_, kind_;
  int threads_ = -1;
  std::unique_ptr<Backend> backend_;  // before the model: destroyed after it
  std::unique_ptr<ModelSource> source_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<Model> model_;
};

BenchRunner::BenchRunner(RunOptions options) : o_(std::move(options)), cache_(std::make_unique<ModelCache>()) {}
BenchRunner::~BenchRunner() = default;

ManifestResult BenchRunner::run(const Manifest& m) {
  const std::string& where = m.source_path;
  if (!fs::exists(m.model.path)) manifest_fail(where, fmt::format("model.path {} does not exist", m.model.path));
  const bool in_process = o_.url.empty();
  if (in_process && m.runtime.backend != "cpu" && !(m.runtime.backend == "cuda" && cuda_compiled()))
    manifest_fail(where, fmt::format("runtime.backend \"{}\" is not built into this binary (built: cpu{})",
                                     m.runtime.backend, cuda_compiled() ? ", cuda" : ""));
  std::string digest;
  if (!m.model.sha256.empty()) {
    digest = model_digest(m.model.path);
    if (digest != m.model.sha256)
      manifest_fail(where, fmt::format("model.sha256 is {} but {} has sha256 {}", m.model.sha256, m.model.path, digest));
  }
  cache_->load(m.model.path, in_process, m.runtime.backend, m.runtime.threads);
  const Tokenizer& tok = cache_->tokenizer();
  const TokenSpace space = token_space(tok);
  const Workload w = build_workload(m, space);

  // Every prompt must fit a sequence (the model's context; in-process also the KV pool).
  auto check_capacity = [&](int64_t capacity) {
    for (const PlannedRequest& r : w.requests)
      if (static_cast<int64_t>(r.prompt.size()) + 1 > capacity)
        manifest_fail(where, fmt::format("request {} has a prompt of {} tokens but a sequence holds at most {} here",
                                         r.id, r.prompt.size(), capacity));
  };
  json target;
  HttpTarget http;
  if (!in_process) {
    check_capacity(cache_->source().config().max_position_embeddings);
    http.url = o_.url;
    http.api_key = o_.api_key;
    http.api = o_.api == "auto" ? detect_api(o_.url, o_.api_key) : o_.api;
    json server = describe_server(http);
    http.model_name = o_.model_name;
    if (http.model_name.empty() && server.contains("models") && !server["models"].value("data", json::array()).empty())
      http.model_name = server["models"]["data"][0].value("id", "default");
    if (http.model_name.empty()) http.model_name = "default";
    std::string name = http.api == "ax" ? "ax-engine serve" : "openai-compatible server";
    if (server.contains("props") && server["props"].contains("build_info")) name = "llama-server";
    target = {{"kind", "url"}, {"name", name},
              {"description", fmt::format("{} at {} (api {}); the server's own runtime settings apply", name, o_.url, http.api)},
              {"server", server}};
  }

  const int repeats = o_.repeat > 0 ? o_.repeat : m.checks.expect_deterministic ? 2 : 1;
  RunOutput out;
  out.manifest = &m;
  out.workload = &w;
  for (int k = 0; k < repeats; ++k) {
    RunRecord run;
    run.repeat = k;
    ProgressBar bar(o_.progress, fmt::format("{} run {}/{}", m.id, k + 1, repeats));
    auto on_progress = [&](size_t done, size_t total) { bar.update(done, total); };
    if (in_process) {
      EngineTransport t(cache_->model(), tok, m, k, o_.perturb);  // a fresh engine and KV pool per run
      if (k == 0) {  // the pool's geometry: for the capacity check and the record
        const Engine& e = t.engine();
        const EngineConfig& ec = e.config();
        check_capacity(e.sequence_capacity());
        target = {{"kind", "in-process"},
                  {"name", "ax-engine in-process"},
                  {"description", fmt::format("in-process engine ({}, KV {} x {} tokens, {})",
                                              cache_->backend().description(), ec.num_kv_blocks, ec.block_size,
                                              m.runtime.kv_type)},
                  {"engine", {{"threads", default_threads()}, {"kv_blocks", ec.num_kv_blocks}, {"block_size", ec.block_size},
                              {"max_model_len", ec.max_model_len}, {"kv_explanation", e.kv_explanation()}}}};
      }
      drive(w, t, run, on_progress);
    } else {
      HttpTransport t(http, m);
      drive(w, t, run, on_progress);
    }
    out.runs.push_back(std::move(run));
  }
  out.metrics = metrics_document(out.runs);
  out.checks = evaluate_checks(m, w, out.runs, out.metrics["summary"]);
  out.exit_code = exit_code(out.checks);
  out.environment = {{"target", target},
                     {"model", model_json(cache_->source(), m.model.path, digest)},
                     {"machine", machine_info(false)},
                     {"build", build_json()},
                     {"repeats", repeats}};

  ManifestResult res;
  res.dir = (fs::path(o_.out_dir) / artifact_dir_name(m)).string();
  write_artifacts(res.dir, out);
  res.exit_code = out.exit_code;
  const json& s = out.metrics["summary"];
  auto num = [&](const char* k, const char* spec) {
    return s.value(k, json()).is_number() ? fmt::format(fmt::runtime(spec), s[k].get<double>()) : std::string("n/a");
  };
  int failed = 0;
  for (const CheckResult& c : out.checks) failed += c.status == CheckStatus::Failed;
  res.summary_line = fmt::format("{}: {} requests x {} runs, {} tok/s out, TTFT p50 {} ms, ITL p50 {} ms; "
                                 "{} checks, {} failed -> {}",
                                 m.id, w.requests.size(), repeats, num("throughput_tok_s", "{:.1f}"),
                                 num("ttft_p50_ms", "{:.1f}"), num("itl_p50_ms", "{:.2f}"), out.checks.size(), failed, res.dir);
  return res;
}

}  // namespace ax::bench
