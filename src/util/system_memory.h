#pragma once
// The machine's memory as /proc/meminfo reports it.
#include <cstdint>

namespace ax {

int64_t available_memory_bytes();  // MemAvailable, or 0 when it cannot be read
int64_t total_memory_bytes();      // MemTotal, or 0 when it cannot be read

}  // namespace ax
