#pragma once
// Sends a workload's requests through a Transport at the times the workload says, applies its
// cancellations, and waits for every request to finish. The same loop serves the in-process
// engine and HTTP servers, so both see exactly the same arrival process.
//
//   loop: submit what is due (closed loop: while fewer than `concurrency` are in flight;
//         otherwise by arrival time, under the optional cap) -> cancel what is due
//         -> transport.progress(until the next due time) -> count finished requests
#include <cstddef>
#include <functional>
#include <vector>

#include "bench/run_record.h"
#include "bench/workload.h"

namespace ax::bench {

class Transport {
 public:
  virtual ~Transport() = default;
  // Called once before the first submit; the transport fills records[i] for request i.
  virtual void begin(std::vector<RequestRecord>& records, const RunClock& clock) = 0;
  // Starts request i (records[i].submit_ms is set).
  virtual void submit(size_t i, const PlannedRequest& r) = 0;
  // Asks for request i to stop; its record still gets its finish.
  virtual void cancel(size_t i) = 0;
  // Makes progress for at most about `budget_ms`; returns requests that finished since last time.
  virtual std::vector<size_t> progress(double budget_ms) = 0;
  // After the last request finished: engine totals, step samples, gauges.
  virtual void end(RunRecord& run) = 0;
};

// progress(done, total) after each progress() call.
using ProgressFn = std::function<void(size_t done, size_t total)>;

void drive(const Workload& w, Transport& transport, RunRecord& run, const ProgressFn& progress = nullptr);

}  // namespace ax::bench
