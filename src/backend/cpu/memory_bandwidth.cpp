#include "backend/cpu/memory_bandwidth.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "backend/cpu/cpu_features.h"

namespace ax::cpu {
namespace {

using Clock = std::chrono::steady_clock;

// XOR-fold of every 64-byte line: the loads cannot be elided and cost no arithmetic bandwidth.
__attribute__((target("avx512f"))) uint64_t read_avx512(const uint8_t* p, size_t bytes) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 256 <= bytes; i += 256) {
    a0 = _mm512_xor_si512(a0, _mm512_load_si512(p + i));
    a1 = _mm512_xor_si512(a1, _mm512_load_si512(p + i + 64));
    a2 = _mm512_xor_si512(a2, _mm512_load_si512(p + i + 128));
    a3 = _mm512_xor_si512(a3, _mm512_load_si512(p + i + 192));
  }
  alignas(64) uint64_t v[8];  // a store, not _mm512_reduce_*: GCC 12's header warns on those
  _mm512_store_si512(v, _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3)));
  return v[0] ^ v[1] ^ v[2] ^ v[3] ^ v[4] ^ v[5] ^ v[6] ^ v[7];
}

__attribute__((target("avx2"))) uint64_t read_avx2(const uint8_t* p, size_t bytes) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 128 <= bytes; i += 128) {
    a0 = _mm256_xor_si256(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_xor_si256(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_xor_si256(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_xor_si256(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  alignas(32) uint64_t v[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(v), _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3)));
  return v[0] ^ v[1] ^ v[2] ^ v[3];
}

uint64_t read_scalar(const uint8_t* p, size_t bytes) {
  uint64_t acc = 0;
  for (size_t i = 0; i + 8 <= bytes; i += 64) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    acc ^= w;
  }
  return acc;
}

}  // namespace

double measure_read_bandwidth_gbps(ThreadPool& pool, double min_seconds, size_t window_bytes) {
  const size_t bytes = size_t{1} << 30;
  const size_t window = window_bytes > 0 && window_bytes < bytes ? window_bytes : bytes;
  auto* buf = static_cast<uint8_t*>(std::aligned_alloc(64, bytes));
  std::memset(buf, 1, bytes);  // touch every page before timing
  const auto& f = cpu_features();
  std::vector<uint64_t> sink(pool.size());
  double best = 0;
  size_t offset = 0;
  const auto start = Clock::now();
  auto since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  do {
    const auto t0 = Clock::now();
    const uint8_t* base = buf + offset;
    pool.run_on_all([&](int i, int count) {
      const size_t per = window / count / 256 * 256;
      const uint8_t* p = base + i * per;
      sink[i] += f.avx512f ? read_avx512(p, per) : f.avx2 ? read_avx2(p, per) : read_scalar(p, per);
    });
    best = std::max(best, window / since(t0) / 1e9);
    offset = (offset + window) % bytes;
  } while (since(start) < min_seconds);
  std::free(buf);
  volatile uint64_t keep = sink[0];
  (void)keep;
  return best;
}

}  // namespace ax::cpu
