#pragma once
// The in-process target: the workload's requests go straight to an Engine (engine/engine.h) that
// this transport steps on the calling thread, one step per progress() call, reading every
// request's events right after the step that produced them. Records each step's row mix for the
// trace, the KV pool's peak use and the process's peak RSS over the run.
#include <map>
#include <memory>
#include <optional>

#include "bench/driver.h"
#include "bench/manifest.h"
#include "engine/engine.h"

namespace ax::bench {

// A test hook: in the named run (repeat index) and request, the token greedy decoding would pick
// at output position `position` is banned, so that run's output differs there. Lets a test show
// that --repeat catches a nondeterministic token (bench run exits 3).
struct Perturbation {
  int repeat = 0;
  size_t request = 0;
  int64_t position = 0;
};
// "REPEAT:REQUEST:POSITION" -> Perturbation; an ax::Error naming the option otherwise.
Perturbation parse_perturbation(const std::string& text);

// The engine configuration a manifest's runtime section asks for.
EngineConfig engine_config(const RuntimeSpec& runtime);
// The engine request for one planned request under the manifest's sampling and runtime.
Request engine_request(const PlannedRequest& r, const Manifest& m);

class EngineTransport : public Transport {
 public:
  // model and tokenizer outlive the transport; perturb applies when its repeat is `repeat`.
  EngineTransport(Model& model, const Tokenizer& tok, const Manifest& m, int repeat,
                  std::optional<Perturbation> perturb = std::nullopt);

  void begin(std::vector<RequestRecord>& records, const RunClock& clock) override;
  void submit(size_t i, const PlannedRequest& r) override;
  void cancel(size_t i) override;
  std::vector<size_t> progress(double budget_ms) override;
  void end(RunRecord& run) override;

  const Engine& engine() const { return *engine_; }

 private:
  void drain(size_t i, const RequestHandle& h, std::vector<size_t>& finished);

  const Manifest& manifest_;
  int repeat_;
  std::optional<Perturbation> perturb_;
  std::unique_ptr<Engine> engine_;
  std::vector<RequestRecord>* records_ = nullptr;
  const RunClock* clock_ = nullptr;
  std::map<size_t, RequestHandle> live_;
  std::vector<StepSample> steps_;
  int64_t peak_used_ = 0;
};

// Peak resident memory since the last reset, in MB (Linux: VmHWM, reset through clear_refs).
void reset_peak_rss();
double peak_rss_mb();

}  // namespace ax::bench
