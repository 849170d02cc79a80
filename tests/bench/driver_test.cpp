// The loop that sends a workload (bench/driver.h), over a fake transport that finishes each
// request a few progress() calls after it was sent: a closed loop never has more than its
// concurrency in flight, an open loop sends nothing before its time, and cancels reach requests
// only once they were sent.
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "bench/driver.h"

namespace ax::bench {
namespace {

class FakeTransport : public Transport {
 public:
  // lifetime: progress() calls a request lasts; each call takes at least step_us.
  explicit FakeTransport(int lifetime, int step_us = 0) : lifetime_(lifetime), step_us_(step_us) {}
  void begin(std::vector<RequestRecord>& records, const RunClock& clock) override {
    records_ = &records;
    clock_ = &clock;
  }
  void submit(size_t i, const PlannedRequest&) override {
    left_[i] = lifetime_;
    max_in_flight = std::max(max_in_flight, left_.size());
    order.push_back(i);
  }
  void cancel(size_t i) override {
    cancelled.push_back(i);
    left_[i] = 0;
  }
  std::vector<size_t> progress(double budget_ms) override {
    std::vector<size_t> done;
    std::this_thread::sleep_for(std::chrono::microseconds(step_us_));
    if (left_.empty()) std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(std::min(budget_ms, 5.0) * 1000)));
    for (auto it = left_.begin(); it != left_.end();) {
      if (it->second-- > 0) {
        ++it;
        continue;
      }
      (*records_)[it->first].finish_ms = clock_->now_ms();
      (*records_)[it->first].finish_reason = "length";
      done.push_back(it->first);
      it = left_.erase(it);
    }
    return done;
  }
  void end(RunRecord&) override { ended = true; }

  size_t max_in_flight = 0;
  std::vector<size_t> order, cancelled;
  bool ended = false;

 private:
  int lifetime_, step_us_;
  std::map<size_t, int> left_;
  std::vector<RequestRecord>* records_ = nullptr;
  const RunClock* clock_ = nullptr;
};

Workload closed(size_t n, int64_t concurrency) {
  Workload w;
  w.closed_loop = true;
  w.concurrency = concurrency;
  w.requests.resize(n);
  return w;
}

TEST(Driver, ClosedLoopKeepsItsConcurrencyInFlight) {
  Workload w = closed(20, 3);
  FakeTransport t(2);
  RunRecord run;
  size_t last_done = 0, calls = 0;
  drive(w, t, run, [&](size_t done, size_t total) {
    EXPECT_GE(done, last_done);
    EXPECT_EQ(total, 20u);
    last_done = done;
    ++calls;
  });
  EXPECT_EQ(t.max_in_flight, 3u);
  EXPECT_EQ(t.order.size(), 20u);
  EXPECT_EQ(last_done, 20u);
  EXPECT_GT(calls, 0u);
  EXPECT_TRUE(t.ended);
  for (const auto& r : run.requests) {
    EXPECT_GE(r.submit_ms, 0);
    EXPECT_GE(r.finish_ms, r.submit_ms);
  }
}

TEST(Driver, OpenLoopSendsEachRequestAtItsTimeAndCancelsAfterTheSubmit) {
  Workload w;
  w.requests.resize(3);
  w.requests[0].arrival_ms = 0;
  w.requests[1].arrival_ms = 20;
  w.requests[2].arrival_ms = 40;
  w.cancels = {{25, 1}};
  FakeTransport t(1000000);  // only the cancel and the end of the workload finish requests...
  RunRecord run;
  // ...so let requests 0 and 2 finish by cancelling them too, late.
  w.cancels.push_back({45, 0});
  w.cancels.push_back({45, 2});
  drive(w, t, run);
  EXPECT_EQ(t.order, (std::vector<size_t>{0, 1, 2}));
  for (size_t i = 0; i < 3; ++i) EXPECT_GE(run.requests[i].submit_ms, w.requests[i].arrival_ms) << i;
  EXPECT_EQ(t.cancelled, (std::vector<size_t>{1, 0, 2}));
  EXPECT_GE(run.requests[1].finish_ms, 25);
}

TEST(Driver, CappedOpenLoopDefersACancelUntilItsRequestIsSent) {
  Workload w;
  w.concurrency = 1;  // a cap: request 1 waits for request 0
  w.requests.resize(2);
  w.requests[0].arrival_ms = 0;
  w.requests[1].arrival_ms = 0;
  w.cancels = {{1, 1}};
  FakeTransport t(20, 250);  // request 0 lasts about 5 ms: the cancel at 1 ms finds request 1 unsent
  RunRecord run;
  drive(w, t, run);
  EXPECT_EQ(t.max_in_flight, 1u);
  EXPECT_EQ(t.cancelled, (std::vector<size_t>{1}));
  EXPECT_GE(run.requests[1].submit_ms, run.requests[0].finish_ms);
}

}  // namespace
}  // namespace ax::bench
