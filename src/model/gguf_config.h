#pragma once
// GGUF metadata -> ModelConfig, and GGUF tensor names -> Hugging Face names, for the llama.cpp
// architectures "llama" (also Mistral models, which llama.cpp converts as "llama"), "mistral",
// "qwen2" and "qwen3".
//
// RoPE: llama.cpp's converter permutes the Q/K rows of "llama"/"mistral" checkpoints so that
// rotating adjacent pairs gives the same result as HF's rotate-half; those GGUFs get
// RopeStyle::AdjacentPairs and their weights are used as stored. Qwen GGUFs are rotate-half (NEOX).
#include <string>
#include <vector>

#include "model/config.h"

namespace ax {

class GgufFile;

ModelConfig gguf_model_config(const GgufFile& f);

// "blk.3.attn_q.weight" -> "model.layers.3.self_attn.q_proj.weight"; names with no HF
// counterpart (e.g. "rope_freqs.weight") come back unchanged.
std::string gguf_to_hf_name(const std::string& gguf_name);
// The inverse; names with no GGUF counterpart come back unchanged.
std::string hf_to_gguf_name(const std::string& hf_name);

// Llama 3 RoPE as llama.cpp stores it: not as metadata but as a tensor "rope_freqs.weight" of
// rotary_dim / 2 divisors, one per frequency (1 = unchanged, factor = fully slowed). Computed
// from r's llama3 parameters (llama3_rope_factors) when writing; on reading, gguf_model_config()
// recovers llama3 parameters that reproduce the stored divisors (checked to float precision).
std::vector<float> llama3_rope_factors(const RopeConfig& r, int64_t rotary_dim);

}  // namespace ax
