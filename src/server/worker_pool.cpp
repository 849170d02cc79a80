#include "server/worker_pool.h"

#include <algorithm>

namespace ax::server {

WorkerPool::WorkerPool(size_t max_threads, std::chrono::milliseconds idle_exit)
    : max_threads_(std::max<size_t>(1, max_threads)), idle_exit_(idle_exit) {}

WorkerPool::~WorkerPool() {
  {
    std::unique_lock lock(mu_);
    idle_cv_.wait(lock, [&] { return queue_.empty() && running_ == 0; });
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void WorkerPool::submit(std::function<void()> task) {
  std::unique_lock lock(mu_);
  // Join threads that ended after idling (their ids were recorded on the way out).
  for (auto id : finished_) {
    auto it = std::find_if(threads_.begin(), threads_.end(), [&](const std::thread& t) { return t.get_id() == id; });
    if (it != threads_.end()) {
      it->join();
      threads_.erase(it);
    }
  }
  finished_.clear();
  queue_.push_back(std::move(task));
  if (idle_ >= queue_.size()) {
    work_cv_.notify_one();
  } else if (alive_ < max_threads_) {
    ++alive_;
    threads_.emplace_back([this] { worker(); });
  }
}

size_t WorkerPool::threads() const {
  std::lock_guard lock(mu_);
  return alive_;
}

void WorkerPool::drain() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return queue_.empty() && running_ == 0; });
}

bool WorkerPool::drain_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [&] { return queue_.empty() && running_ == 0; });
}

void WorkerPool::worker() {
  std::unique_lock lock(mu_);
  for (;;) {
    ++idle_;
    const bool woke = work_cv_.wait_for(lock, idle_exit_, [&] { return !queue_.empty() || stopping_; });
    --idle_;
    // Stopping or idle too long (unless work is waiting): this thread ends.
    if (stopping_ ? queue_.empty() : !woke) {
      --alive_;
      if (!stopping_) finished_.push_back(std::this_thread::get_id());
      return;
    }
    std::function<void()> task = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    task();
    task = nullptr;  // destroy captures outside the lock
    lock.lock();
    --running_;
    if (queue_.empty() && running_ == 0) idle_cv_.notify_all();
  }
}

}  // namespace ax::server
