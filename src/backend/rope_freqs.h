#pragma once
// A RoPE variant as the rope op applies it: the per-frequency angles and how dimensions pair up.
// model/rope.h computes one from a model's config (default, linear, llama3, yarn schedules).
#include <cstdint>
#include <vector>

namespace ax {

// angle_i(pos) = pos * inv_freq[i]; rotated values are scaled by attention_factor (YaRN's
// magnitude correction, 1 elsewhere).
struct RopeFreqs {
  std::vector<float> inv_freq;  // [rotary_dim / 2]
  float attention_factor = 1.0f;
  int64_t rotary_dim = 0;       // the first rotary_dim dims of each head rotate; the rest pass
  bool adjacent_pairs = false;  // pairs (2i, 2i+1) instead of rotate-half pairs (i, i + rd/2)
};

}  // namespace ax
