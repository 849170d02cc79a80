#include "engine/kv_budget.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "model/kv_cache.h"
#include "util/error.h"

namespace ax {

int64_t available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream ss(line.substr(13));
    int64_t kib = 0;
    ss >> kib;
    return kib * 1024;
  }
  return 0;
}

KvPoolPlan plan_kv_pool(const ModelConfig& cfg, int64_t block_size, int64_t budget_bytes,
                        int64_t max_num_seqs, int64_t max_model_len, KvType type) {
  if (block_size <= 0) fail("--kv-block-size {} must be positive", block_size);
  if (max_num_seqs <= 0) fail("--max-num-seqs {} must be positive", max_num_seqs);
  if (max_model_len <= 0) fail("max model length {} must be positive", max_model_len);
  const int64_t per_block = static_cast<int64_t>(KvCache::bytes_per_block(cfg, block_size, type));
  if (per_block <= 0) fail("model config gives KV blocks of {} bytes", per_block);
  std::string source;
  int64_t budget = budget_bytes;
  if (budget_bytes < 0) fail("--kv-memory {} must not be negative", budget_bytes);
  if (budget == 0) {
    const int64_t avail = available_memory_bytes();
    if (avail <= 0) {
      budget = int64_t{1} << 30;
      source = "1 GiB (MemAvailable unreadable)";
    } else {
      budget = static_cast<int64_t>(avail * kDefaultKvMemoryFraction);
      source = fmt::format("{:.0f}% of MemAvailable {:.1f} GiB", kDefaultKvMemoryFraction * 100,
                           avail / double(1 << 30));
    }
  } else {
    source = "--kv-memory";
  }
  const int64_t blocks_per_seq = (max_model_len + block_size - 1) / block_size;
  const int64_t cap = blocks_per_seq * max_num_seqs;
  int64_t blocks = budget / per_block;
  if (blocks <= 0)
    fail("the KV memory budget of {} bytes ({}) is smaller than one KV block of {} bytes", budget,
         source, per_block);
  std::string capped;
  if (blocks > cap) {
    blocks = cap;
    capped = fmt::format(", capped at {} sequences x {} tokens", max_num_seqs, max_model_len);
  }
  KvPoolPlan p;
  p.num_blocks = blocks;
  p.bytes = blocks * per_block;
  p.explanation = fmt::format("KV cache: {} blocks of {} tokens ({:.1f} MiB, {} tokens, {}) from {}{}",
                              blocks, block_size, p.bytes / double(1 << 20), blocks * block_size,
                              kv_type_name(type), source, capped);
  return p;
}

}  // namespace ax
