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

ThreadPool::ThreadPool(int threads) : threads_(std::max(1, threads)), shares_(threads_) {
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

namespace {

inline uint64_t pack_range(uint64_t front, uint64_t back) { return front | (back << 32); }
inline uint64_t front_of(uint64_t r) { return r & 0xffffffffu; }
inline uint64_t back_of(uint64_t r) { return r >> 32; }

}  // namespace

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t units = (n + grain - 1) / grain;
  if (threads_ == 1 || units == 1 || t_inside_pool || units >= (int64_t{1} << 32)) {
    fn(0, n);
    return;
  }
  std::unique_lock lock(busy_, std::try_to_lock);
  if (!lock.owns_lock()) {
    fn(0, n);
    return;
  }
  // Each thread starts on one contiguous share, so a matmul streams its weights in one ascending
  // run per thread (a new run costs a prefetcher ramp: ~4 chunks per thread from a shared counter
  // made Qwen3-0.6B Q4_K_M decode ~5 % slower). It takes its share in small steps from the front; a thread that runs out cuts the back
  // half off the largest share left and goes on with that, so a thread slowed by another process
  // holds nobody up.
  const int T = threads_;
  std::vector<Share>& shares = shares_;  // one dispatch at a time (busy_): reused, no allocation
  for (int t = 0; t < T; ++t)
    shares[t].range.store(pack_range(units * t / T, units * (t + 1) / T), std::memory_order_relaxed);
  const int64_t step = std::max<int64_t>(1, units / (int64_t{8} * T));
  std::atomic<int> arrivals{0};
  const std::function<void()> job = [&] {
    const int me = arrivals.fetch_add(1, std::memory_order_relaxed);
    if (me >= T) return;
    std::atomic<uint64_t>& mine = shares[me].range;
    for (;;) {
      uint64_t r = mine.load(std::memory_order_acquire);
      while (front_of(r) < back_of(r)) {
        const uint64_t f = front_of(r), b = back_of(r), nf = std::min<uint64_t>(b, f + step);
        if (mine.compare_exchange_weak(r, pack_range(nf, b), std::memory_order_acq_rel)) {
          fn(static_cast<int64_t>(f) * grain, std::min(n, static_cast<int64_t>(nf) * grain));
          r = mine.load(std::memory_order_acquire);
        }
      }
      // Own share done: steal the back half of the largest share left.
      int victim = -1;
      uint64_t most = 0;
      for (int t = 0; t < T; ++t) {
        const uint64_t v = shares[t].range.load(std::memory_order_acquire);
        if (back_of(v) > front_of(v) && back_of(v) - front_of(v) > most) {
          most = back_of(v) - front_of(v);
          victim = t;
        }
      }
      if (victim < 0) return;
      uint64_t v = shares[victim].range.load(std::memory_order_acquire);
      const uint64_t f = front_of(v), b = back_of(v);
      if (f >= b) continue;
      const uint64_t mid = f + (b - f) / 2;  // the owner keeps [f, mid) (nothing when one unit is left)
      if (shares[victim].range.compare_exchange_strong(v, pack_range(f, mid), std::memory_order_acq_rel))
        mine.store(pack_range(mid, b), std::memory_order_release);
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
