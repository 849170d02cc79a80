#pragma once
// The machine's memory read floor: how fast the pool's threads can stream a buffer much larger
// than the last-level cache with plain vector loads. Decode speed is judged against it
// (bytes read per token / this bandwidth = the fastest a token can be).
#include <cstddef>

#include "util/thread_pool.h"

namespace ax::cpu {

// Best-of GB/s over at least min_seconds of repeated passes over a 1 GiB buffer. window_bytes > 0
// times windows of that size (taken in turn, each well beyond the L3) instead of whole passes: on a
// machine shared with other work, the best short window is the least noisy estimate.
double measure_read_bandwidth_gbps(ThreadPool& pool, double min_seconds = 1.0, size_t window_bytes = 0);

}  // namespace ax::cpu
