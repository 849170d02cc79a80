#include "util/thread_pool.h"

#include <algorithm>
#include <memory>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AX_CPU_RELAX() _mm_pause()
#else
#define AX_CPU_RELAX() std::this_thread::yield()
#endif

namespace ax {
namespace {

// Spin this many pause iterations (~tens of microseconds) before sleeping: long enough to catch
// the next matmul of a decode step, short enough not to burn a core while the engine is idle.
constexpr int kSpinIterations = 1 << 15;

thread_local bool t_inside_pool = false;

}  // namespace

ThreadPool::ThreadPool(int threads) : threads_(std::max(1, threads)) {
  workers_.reserve(threads_ - 1);
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker_loop() {
  t_inside_pool = true;
  uint64_t seen = 0;  // the generation at construction: a late-starting worker still sees every bump
  for (;;) {
    uint64_t g = generation_.load(std::memory_order_acquire);
    for (int spin = 0; g == seen && spin < kSpinIterations; ++spin) {
      AX_CPU_RELAX();
      g = generation_.load(std::memory_order_acquire);
    }
    while (g == seen) {
      generation_.wait(seen, std::memory_order_acquire);
      g = generation_.load(std::memory_order_acquire);
    }
    seen = g;
    if (stop_.load(std::memory_order_seq_cst)) return;
    // Announce, then check the caller has not already declared the work done (seq_cst on both
    // sides: either the caller sees us in active_ and waits, or we see finished_ and stay out).
    active_.fetch_add(1, std::memory_order_seq_cst);
    if (!finished_.load(std::memory_order_seq_cst)) (*job_)();
    if (active_.fetch_sub(1, std::memory_order_seq_cst) == 1) active_.notify_one();
  }
}

void ThreadPool::dispatch(const std::function<void()>& job) {
  job_ = &job;
  finished_.store(false, std::memory_order_seq_cst);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  generation_.notify_all();
  t_inside_pool = true;
  job();
  t_inside_pool = false;
  finished_.store(true, std::memory_order_seq_cst);
  int left = active_.load(std::memory_order_seq_cst);
  for (int spin = 0; left != 0 && spin < kSpinIterations; ++spin) {
    AX_CPU_RELAX();
    left = active_.load(std::memory_order_seq_cst);
  }
  while (left != 0) {
    active_.wait(left, std::memory_order_seq_cst);
    left = active_.load(std::memory_order_seq_cst);
  }
  job_ = nullptr;
}

void ThreadPool::run_on_all(const std::function<void(int, int)>& fn) {
  parallel_for(threads_, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) fn(static_cast<int>(i), threads_);
  });
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t units = (n + grain - 1) / grain;
  if (threads_ == 1 || units == 1 || t_inside_pool) {
    fn(0, n);
    return;
  }
  std::unique_lock lock(busy_, std::try_to_lock);
  if (!lock.owns_lock()) {
    fn(0, n);
    return;
  }
  // About 4 chunks per thread: dynamic enough to balance a busy core, few enough that the shared
  // counter is not contended.
  const int64_t chunks = std::min<int64_t>(units, int64_t{4} * threads_);
  const int64_t units_per_chunk = (units + chunks - 1) / chunks;
  const int64_t chunk_len = units_per_chunk * grain;
  const int64_t nchunks = (n + chunk_len - 1) / chunk_len;
  std::atomic<int64_t> next{0};
  const std::function<void()> job = [&] {
    for (;;) {
      const int64_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= nchunks) return;
      const int64_t begin = c * chunk_len;
      fn(begin, std::min(n, begin + chunk_len));
    }
  };
  dispatch(job);
}

namespace {
std::mutex g_default_mutex;
std::unique_ptr<ThreadPool> g_default_pool;
int g_default_threads = 0;

int resolve_threads(int n) {
  if (n > 0) return n;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}
}  // namespace

ThreadPool& default_thread_pool() {
  std::lock_guard lock(g_default_mutex);
  if (!g_default_pool) g_default_pool = std::make_unique<ThreadPool>(resolve_threads(g_default_threads));
  return *g_default_pool;
}

void set_default_threads(int n) {
  std::lock_guard lock(g_default_mutex);
  g_default_threads = n;
  if (g_default_pool && g_default_pool->size() == resolve_threads(n)) return;
  g_default_pool.reset();
  g_default_pool = std::make_unique<ThreadPool>(resolve_threads(n));
}

int default_threads() { return default_thread_pool().size(); }

}  // namespace ax
