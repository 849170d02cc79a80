#pragma once
// RoPE frequencies for a model's RopeConfig: the default schedule theta^(-2i/d) and its scaled
// variants (linear, llama3, yarn), computed as Hugging Face transformers computes them.
#include <cstdint>

#include "backend/rope_freqs.h"
#include "model/config.h"

namespace ax {

// head_dim: the per-head width; rope.rotary_dim (0 = all of head_dim) says how much of it rotates.
RopeFreqs make_rope_freqs(const RopeConfig& rope, int64_t head_dim);

}  // namespace ax
