#pragma once
// Threads for route handlers, which block (tokenizing, waiting on engine events, writing a stream
// to a slow reader). Threads start on demand up to a cap and end after a while idle, so an idle
// server holds none and a busy one no more than it needs. Tasks beyond the cap wait in order.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ax::server {

class WorkerPool {
 public:
  WorkerPool(size_t max_threads, std::chrono::milliseconds idle_exit);
  ~WorkerPool();  // waits for every task queued so far
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void submit(std::function<void()> task);
  // Threads alive now (for tests and /metrics).
  size_t threads() const;
  // Blocks until no task is queued or running (or the timeout passed: false).
  void drain();
  bool drain_for(std::chrono::milliseconds timeout);

 private:
  void worker();

  const size_t max_threads_;
  const std::chrono::milliseconds idle_exit_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_, idle_cv_;
  std::deque<std::function<void()>> queue_;
  size_t alive_ = 0, idle_ = 0, running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;  // joined at destruction; finished ones are reaped on submit
  std::vector<std::thread::id> finished_;
};

}  // namespace ax::server
