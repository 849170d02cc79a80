#include "util/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

namespace ax {
namespace {

TEST(ThreadPool, ParallelForCoversEveryIndexOnce) {
  const uint32_t seed = std::random_device{}();
  std::mt19937 rng(seed);
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    for (int trial = 0; trial < 50; ++trial) {
      const int64_t n = rng() % (trial % 2 ? 1000 : 20000);
      const int64_t grain = 1 + rng() % 20;
      std::vector<std::atomic<int>> hits(n);
      std::atomic<bool> misaligned{false};
      pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
        if (b % grain != 0 || e <= b) misaligned = true;
        for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
      });
      EXPECT_FALSE(misaligned) << "seed " << seed;
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "i=" << i << " n=" << n << " seed " << seed;
    }
  }
}

TEST(ThreadPool, RunOnAllCallsEveryIndexOnceAndIsReusable) {
  ThreadPool pool(3);
  for (int round = 0; round < 2000; ++round) {  // many small dispatches, as in decode
    std::atomic<int> hits[3] = {0, 0, 0};
    pool.run_on_all([&](int index, int count) {
      EXPECT_EQ(count, 3);
      hits[index].fetch_add(1);
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1) << "round " << round;
  }
}

TEST(ThreadPool, WorkersShareTheWork) {
  ThreadPool pool(2);
  std::mutex m;
  std::set<std::thread::id> ids;
  // Each chunk waits (up to 5 s) until a second thread has taken a chunk too.
  pool.parallel_for(8, 1, [&](int64_t, int64_t) {
    {
      std::lock_guard lock(m);
      ids.insert(std::this_thread::get_id());
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < until) {
      std::lock_guard lock(m);
      if (ids.size() >= 2) break;
    }
  });
  EXPECT_EQ(ids.size(), 2u);
}

// Each thread starts on its own contiguous share; a thread held up in its share loses the rest of it
// to the others (they cut its back half, again and again) instead of holding the call up.
TEST(ThreadPool, AStalledShareIsTakenOver) {
  ThreadPool pool(2);
  constexpr int64_t n = 256;
  std::mutex m;
  std::vector<std::pair<int64_t, int64_t>> first_ranges;  // the first range of each thread
  std::set<std::thread::id> seen;
  std::vector<std::atomic<int>> hits(n);
  std::atomic<int64_t> done_by_others{0};
  std::thread::id stalled;
  pool.parallel_for(n, 1, [&](int64_t b, int64_t e) {
    bool stall = false;
    {
      std::lock_guard lock(m);
      if (seen.insert(std::this_thread::get_id()).second) first_ranges.emplace_back(b, e);
      if (b == 0) {
        stall = true;
        stalled = std::this_thread::get_id();
      } else if (seen.size() == 2 && std::this_thread::get_id() != stalled && b < n / 2) {
        done_by_others += e - b;
      }
    }
    for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
    // The thread holding [0, ...) waits (up to 5 s) until the other has taken part of that share.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (stall && done_by_others.load() == 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::microseconds(100));
  });
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << i;
  ASSERT_EQ(first_ranges.size(), 2u);
  for (const auto& [b, e] : first_ranges) EXPECT_TRUE(b == 0 || b == n / 2) << "first range starts at " << b;
  EXPECT_GT(done_by_others.load(), 0) << "the stalled share was not taken over";
}

TEST(ThreadPool, NestedCallsRunSerially) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  pool.parallel_for(8, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      pool.parallel_for(10, 1, [&](int64_t b2, int64_t e2) { total.fetch_add(e2 - b2); });
  });
  EXPECT_EQ(total.load(), 80);
}

TEST(ThreadPool, DefaultPoolFollowsSetting) {
  set_default_threads(3);
  EXPECT_EQ(default_threads(), 3);
  EXPECT_EQ(default_thread_pool().size(), 3);
  set_default_threads(1);
  EXPECT_EQ(default_threads(), 1);
  set_default_threads(0);
  EXPECT_GE(default_threads(), 1);
}

}  // namespace
}  // namespace ax
