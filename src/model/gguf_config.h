#pragma once
// GGUF metadata -> ModelConfig for every architecture of the registry (model/architecture.h): the
// common keys here (under "<general.architecture>."), the rest by the architecture.
//
// RoPE: llama.cpp's converter permutes the Q/K rows of "llama"/"mistral" checkpoints so that
// rotating adjacent pairs gives the same result as HF's rotate-half; those architectures set
// RopeStyle::AdjacentPairs and their weights are used as stored. The others are rotate-half (NEOX).
#include <string>
#include <vector>

#include "model/config.h"

namespace ax {

class GgufFile;

ModelConfig gguf_model_config(const GgufFile& f);

// Which layers use the sliding window: llama.cpp's "<arch>.attention.sliding_window_pattern",
// either one flag per layer (true: sliding) or a period n (layer l slides unless l % n == n - 1;
// 0: every layer slides); `default_period` where the file has neither.
std::vector<bool> gguf_sliding_layers(const GgufFile& f, int64_t num_layers, int64_t default_period);

// Llama 3 RoPE as llama.cpp stores it: not as metadata but as a tensor "rope_freqs.weight" of
// rotary_dim / 2 divisors, one per frequency (1 = unchanged, factor = fully slowed). Computed
// from r's llama3 parameters (llama3_rope_factors) when writing; on reading, gguf_model_config()
// recovers llama3 parameters that reproduce the stored divisors (checked to float precision).
std::vector<float> llama3_rope_factors(const RopeConfig& r, int64_t rotary_dim);

}  // namespace ax
