#pragma once
// A pool of persistent worker threads for the compute ops. Decode calls hundreds of parallel ops per
// token, so dispatch must cost microseconds: workers spin briefly on an atomic generation counter
// before sleeping (futex via std::atomic::wait), and the calling thread does a share of the work.
// Each thread starts on its own contiguous share of the work and steals from the others' shares when
// it runs out, and the caller never waits for a worker that has not started: on a machine shared
// with other processes a descheduled worker costs nothing.
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ax {

class ThreadPool {
 public:
  // threads = total threads that work, including the caller (>= 1); threads - 1 workers start.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return threads_; }

  // Calls fn(begin, end) over disjoint ranges covering [0, n). Ranges are multiples of `grain`
  // (except the last). Thread t first works through [t n / T, (t + 1) n / T) front to back (so a
  // matmul streams its weights in one ascending run per thread) and then takes the back half of
  // whatever share is largest, so a thread slowed by another process does not hold the others up. Returns when all are done. Re-entrant calls (from inside fn, or from a
  // second thread while the pool is busy) run serially on the calling thread.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // Calls fn(i, size()) once for every i in [0, size()), spread over the pool's threads (a thread
  // may run several when others are descheduled).
  void run_on_all(const std::function<void(int, int)>& fn);

 private:
  void worker_loop();
  // Runs job() on the calling thread and on every worker that wakes before the work is done; returns
  // when no thread is still inside job(). job() must return once there is nothing left to take.
  void dispatch(const std::function<void()>& job);

  // A thread's share of a parallel_for, in grain units: [front, back) packed into one atomic word
  // (front in the low 32 bits), so the owner taking from the front and a thief cutting the back
  // never hand out the same unit.
  struct alignas(64) Share {
    std::atomic<uint64_t> range{0};
  };

  int threads_;
  std::vector<Share> shares_;  // one per thread, for the parallel_for in flight
  std::vector<std::thread> workers_;
  std::mutex busy_;                        // one dispatch at a time
  const std::function<void()>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};    // bumped once per dispatch; workers wait on it
  std::atomic<int> active_{0};             // workers inside the current job
  std::atomic<bool> finished_{true};       // the caller found no work left: late workers stay out
  std::atomic<bool> stop_{false};
};

// The process-wide pool the CPU ops use. Created on first use with the hardware thread count, or
// with the count set earlier by set_default_threads (the CLI's --threads).
ThreadPool& default_thread_pool();
// n <= 0 means std::thread::hardware_concurrency(). Replaces the pool; call it before compute starts
// (not while an op is running on the old pool).
void set_default_threads(int n);
int default_threads();

}  // namespace ax
