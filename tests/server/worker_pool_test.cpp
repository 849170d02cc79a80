// Handler threads start on demand up to their cap and end when idle.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "server/worker_pool.h"

namespace ax::server {
namespace {

TEST(WorkerPool, ThreadsStartOnDemandAndRetireWhenIdle) {
  WorkerPool pool(4, std::chrono::milliseconds(100));
  EXPECT_EQ(pool.threads(), 0u);
  std::atomic<int> running{0}, peak{0}, done{0};
  std::atomic<bool> release{false};
  for (int i = 0; i < 10; ++i)
    pool.submit([&] {
      int now = ++running;
      int p = peak.load();
      while (now > p && !peak.compare_exchange_weak(p, now)) {
      }
      while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      --running;
      ++done;
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(pool.threads(), 4u);  // capped; the other six wait in order
  release = true;
  pool.drain();
  EXPECT_EQ(done, 10);
  EXPECT_EQ(peak, 4);
  for (int i = 0; i < 100 && pool.threads() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(pool.threads(), 0u);  // idle threads ended
  pool.submit([&] { ++done; });   // and start again when work comes
  pool.drain();
  EXPECT_EQ(done, 11);
}

}  // namespace
}  // namespace ax::server
