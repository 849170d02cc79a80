#pragma once
// The machine's memory read floor: how fast the pool's threads can stream a buffer much larger
// than the last-level cache with plain vector loads. Decode speed is judged against it
// (bytes read per token / this bandwidth = the fastest a token can be).
#include "util/thread_pool.h"

namespace ax::cpu {

// Best-of GB/s over at least min_seconds of repeated passes over a 1 GiB buffer.
double measure_read_bandwidth_gbps(ThreadPool& pool, double min_seconds = 1.0);

}  // namespace ax::cpu
