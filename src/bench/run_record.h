#pragma once
// What one run of a workload leaves behind, whichever transport carried it: per request, when it
// was sent, when its tokens arrived, what it produced and how it ended; per engine step (when the
// engine runs in-process) the rows it ran; and server-side counters where the target reports them.
// Times are milliseconds since the run started (RunClock).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ax::bench {

class RunClock {
 public:
  RunClock() : t0_(std::chrono::steady_clock::now()) {}
  double now_ms() const { return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count(); }

 private:
  std::chrono::steady_clock::time_point t0_;
};

struct TokenArrival {
  double t_ms = 0;
  int32_t count = 0;  // tokens that arrived together (a speculative step, an SSE chunk)
};

struct RequestRecord {
  double submit_ms = -1;
  double first_token_ms = -1;
  double finish_ms = -1;
  std::vector<TokenArrival> arrivals;
  std::vector<int32_t> output;  // output token ids, when the target reports them
  std::string text;             // output text, when the target reports it
  bool has_token_ids = false;   // digests then cover the ids, else the text
  std::string finish_reason;    // "stop", "length", "cancelled", "error"
  std::string error;
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t preemptions = 0;

  bool finished() const { return finish_ms >= 0; }
  bool ok() const { return finish_reason == "stop" || finish_reason == "length"; }
};

// One engine step (in-process runs).
struct StepSample {
  double start_ms = 0, dur_ms = 0;
  int64_t prefill_rows = 0, decode_rows = 0, sequences = 0;
  int64_t running = 0, waiting = 0, kv_blocks_used = 0;
};

// A periodic sample of a server's gauges (runs against our server's /metrics).
struct GaugeSample {
  double t_ms = 0;
  double running = 0, waiting = 0, kv_blocks_used = 0;
};

// Engine-side totals for the run (null where the target does not say).
struct EngineTotals {
  std::optional<int64_t> kv_blocks_total, kv_blocks_peak_used, prefix_evictions, preemptions;
  std::optional<int64_t> spec_drafted, spec_accepted;
  std::optional<int64_t> kv_blocks_used_at_end;
  std::optional<double> peak_rss_mb;
};

struct RunRecord {
  int repeat = 0;
  std::vector<RequestRecord> requests;  // indexed like Workload::requests
  std::vector<StepSample> steps;
  std::vector<GaugeSample> gauges;
  EngineTotals totals;
  double wall_ms = 0;
};

}  // namespace ax::bench
