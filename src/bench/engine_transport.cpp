#include "bench/engine_transport.h"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <regex>
#include <thread>

#include "util/error.h"

namespace ax::bench {
namespace {

// Bans the greedy choice at one output position (the Perturbation test hook).
class BanGreedyAt final : public LogitsProcessor {
 public:
  explicit BanGreedyAt(int64_t position) : position_(position) {}
  void process(float* logits, int64_t vocab) override {
    if (seen_ != position_) return;
    std::max_element(logits, logits + vocab)[0] = -std::numeric_limits<float>::infinity();
  }
  void accept(int32_t) override { ++seen_; }

 private:
  int64_t position_, seen_ = 0;
};

}  // namespace

Perturbation parse_perturbation(const std::string& text) {
  static const std::regex re(R"((\d+):(\d+):(\d+))");
  std::smatch m;
  if (!std::regex_match(text, m, re)) fail("--perturb must read REPEAT:REQUEST:POSITION (got \"{}\")", text);
  return {std::stoi(m[1]), static_cast<size_t>(std::stoull(m[2])), std::stoll(m[3])};
}

EngineConfig engine_config(const RuntimeSpec& rt) {
  EngineConfig c;
  c.num_kv_blocks = rt.kv_blocks;
  c.kv_memory_bytes = rt.kv_pool_mb * (int64_t{1} << 20);
  c.max_num_seqs = rt.max_num_seqs;
  c.max_step_tokens = rt.max_batch_tokens;
  c.prefix_caching = rt.prefix_cache;
  c.kv_type = rt.kv_type == "f32" ? KvType::F32 : KvType::F16;
  return c;
}

Request engine_request(const PlannedRequest& p, const Manifest& m) {
  Request r;
  r.prompt = p.prompt;
  r.sampling.temperature = static_cast<float>(m.sampling.temperature);
  r.sampling.top_k = m.sampling.top_k;
  r.sampling.top_p = static_cast<float>(m.sampling.top_p);
  r.sampling.min_p = static_cast<float>(m.sampling.min_p);
  r.sampling.repetition_penalty = static_cast<float>(m.sampling.repetition_penalty);
  r.sampling.seed = p.seed;
  r.stop.max_tokens = p.max_tokens;
  r.stop.ignore_eos = m.sampling.ignore_eos;
  r.speculation.enabled = m.runtime.speculation;
  r.speculation.max_draft = m.runtime.max_draft;
  return r;
}

void reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  if (f) f << "5";  // resets VmHWM to the current RSS
}

double peak_rss_mb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

EngineTransport::EngineTransport(Model& model, const Tokenizer& tok, const Manifest& m, int repeat,
                                 std::optional<Perturbation> perturb)
    : manifest_(m), repeat_(repeat), perturb_(perturb) {
  engine_ = std::make_unique<Engine>(model, &tok, engine_config(m.runtime));
}

void EngineTransport::begin(std::vector<RequestRecord>& records, const RunClock& clock) {
  records_ = &records;
  clock_ = &clock;
  reset_peak_rss();
}

void EngineTransport::submit(size_t i, const PlannedRequest& p) {
  Request r = engine_request(p, manifest_);
  if (perturb_ && perturb_->repeat == repeat_ && perturb_->request == i)
    r.logits_processor = std::make_shared<BanGreedyAt>(perturb_->position);
  RequestRecord& rec = (*records_)[i];
  rec.has_token_ids = true;
  rec.prompt_tokens = static_cast<int64_t>(p.prompt.size());
  try {
    live_[i] = engine_->submit(std::move(r));
  } catch (const Error& e) {  // refused at submit: the request fails, the run goes on
    rec.finish_ms = clock_->now_ms();
    rec.finish_reason = "error";
    rec.error = e.what();
    live_[i] = RequestHandle{};
  }
}

void EngineTransport::cancel(size_t i) {
  auto it = live_.find(i);
  if (it != live_.end() && it->second.events) engine_->cancel(it->second.id);
}

void EngineTransport::drain(size_t i, const RequestHandle& h, std::vector<size_t>& finished) {
  RequestRecord& rec = (*records_)[i];
  if (!h.events) {  // refused at submit
    finished.push_back(i);
    return;
  }
  while (auto e = h.events->try_pop()) {
    const double now = clock_->now_ms();
    if (e->kind == EventKind::Token) {
      if (e->tokens.empty()) continue;
      if (rec.first_token_ms < 0) rec.first_token_ms = now;
      rec.arrivals.push_back({now, static_cast<int32_t>(e->tokens.size())});
      for (const auto& t : e->tokens) rec.output.push_back(t.id);
      rec.text += e->text;
      continue;
    }
    rec.finish_ms = now;
    rec.finish_reason = to_string(e->reason);
    rec.error = e->error;
    rec.prompt_tokens = e->metrics.prompt_tokens ? e->metrics.prompt_tokens : rec.prompt_tokens;
    rec.cached_tokens = e->metrics.cached_tokens;
    rec.completion_tokens = static_cast<int64_t>(rec.output.size());
    rec.preemptions = e->metrics.preemptions;
    finished.push_back(i);
  }
}

std::vector<size_t> EngineTransport::progress(double budget_ms) {
  std::vector<size_t> finished;
  const double start = clock_->now_ms();
  const bool worked = engine_->step();
  if (worked) {
    const EngineMetrics m = engine_->metrics();
    StepSample s;
    s.start_ms = start;
    s.dur_ms = clock_->now_ms() - start;
    s.prefill_rows = m.last_step_prefill_rows;
    s.decode_rows = m.last_step_decode_rows;
    s.sequences = m.last_step_sequences;
    s.running = m.running;
    s.waiting = m.waiting;
    s.kv_blocks_used = m.kv_blocks_used;
    peak_used_ = std::max(peak_used_, m.kv_blocks_used);
    if (s.prefill_rows + s.decode_rows > 0) steps_.push_back(s);
  }
  for (auto it = live_.begin(); it != live_.end();) {
    const size_t before = finished.size();
    drain(it->first, it->second, finished);
    it = finished.size() > before ? live_.erase(it) : std::next(it);
  }
  if (!worked && finished.empty() && budget_ms > 0)  // idle until the next arrival
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(std::min(budget_ms, 50.0) * 1e3)));
  return finished;
}

void EngineTransport::end(RunRecord& run) {
  while (engine_->step()) {}  // let cancelled requests' blocks go
  const EngineMetrics m = engine_->metrics();
  run.steps = std::move(steps_);
  run.totals.kv_blocks_total = m.kv_blocks_total;
  run.totals.kv_blocks_peak_used = peak_used_;
  run.totals.prefix_evictions = m.prefix_evictions;
  run.totals.preemptions = m.preemptions;
  run.totals.spec_drafted = m.speculation.drafted_tokens;
  run.totals.spec_accepted = m.speculation.accepted_tokens;
  run.totals.kv_blocks_used_at_end = m.kv_blocks_used;
  run.totals.peak_rss_mb = peak_rss_mb();
}

}  // namespace ax::bench
