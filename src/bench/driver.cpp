#include "bench/driver.h"

#include <algorithm>
#include <limits>

namespace ax::bench {

void drive(const Workload& w, Transport& transport, RunRecord& run, const ProgressFn& progress) {
  const size_t n = w.requests.size();
  run.requests.assign(n, RequestRecord{});
  RunClock clock;
  transport.begin(run.requests, clock);
  size_t next = 0, cancel_at = 0, done = 0, in_flight = 0;
  std::vector<size_t> pending_cancels;  // due before their request was sent (a capped open loop)
  constexpr double kForever = std::numeric_limits<double>::infinity();
  while (done < n) {
    double now = clock.now_ms();
    while (next < n) {
      const PlannedRequest& r = w.requests[next];
      if (w.closed_loop ? in_flight >= static_cast<size_t>(w.concurrency) : r.arrival_ms > now) break;
      if (!w.closed_loop && w.concurrency > 0 && in_flight >= static_cast<size_t>(w.concurrency)) break;
      run.requests[next].submit_ms = clock.now_ms();
      transport.submit(next, r);
      ++in_flight;
      ++next;
    }
    while (cancel_at < w.cancels.size() && w.cancels[cancel_at].t_ms <= now) pending_cancels.push_back(w.cancels[cancel_at++].request);
    std::erase_if(pending_cancels, [&](size_t i) {
      if (run.requests[i].submit_ms < 0) return false;  // not sent yet: cancel it once it is
      if (!run.requests[i].finished()) transport.cancel(i);
      return true;
    });
    double due = kForever;
    if (!w.closed_loop && next < n) due = std::min(due, w.requests[next].arrival_ms);
    if (cancel_at < w.cancels.size()) due = std::min(due, w.cancels[cancel_at].t_ms);
    now = clock.now_ms();
    const double budget = due == kForever ? 100.0 : std::max(0.0, due - now);
    for (size_t i : transport.progress(budget)) {
      (void)i;
      --in_flight;
      ++done;
    }
    if (progress) progress(done, n);
  }
  run.wall_ms = clock.now_ms();
  transport.end(run);
}

}  // namespace ax::bench
