#pragma once
// Writing a model as a llama.cpp-compatible GGUF: ModelConfig -> metadata, Hugging Face tensors ->
// GGUF names and layout. The inverse of gguf_model_config() / gguf_to_hf_name(), used to convert
// the HF fixtures for tests and to make random-weight test models of real shapes.
#include <map>
#include <string>

#include "format/gguf_writer.h"
#include "model/config.h"

namespace ax {

// general.architecture and the "<arch>." keys (Mistral is written as "llama", as llama.cpp does):
// the common ones, sliding windows (with the per-layer attention.sliding_window_pattern where some
// layers do not slide), soft-caps, the mixture-of-experts keys, then the architecture's own
// (Architecture::to_gguf); special token ids when set, and for llama3 RoPE the
// "rope_freqs.weight" tensor. Throws for what GGUF cannot express (layers of different windows).
void write_model_config(GgufWriter& w, const ModelConfig& c);

// The GGUF architecture name write_model_config() uses.
std::string gguf_arch_name(const ModelConfig& c);

// Adds HF-named tensors under their GGUF names, changed only where llama.cpp's converter changes
// them: for llama-architecture GGUFs the q_proj/k_proj rows are permuted per head from
// rotate-half to adjacent-pair order (see RopeStyle); experts stored one tensor each are stacked
// into one [experts, rows, cols] tensor per projection; (1 + w) norms (Gemma) are stored as
// 1 + w; latent attention's kv_b_proj is split per head into attn_k_b (transposed) and attn_v_b.
// Unchanged tensors are borrowed: their bytes must stay mapped until the writer has written.
void add_hf_tensors(GgufWriter& w, const ModelConfig& c, const std::map<std::string, TensorView>& tensors);

}  // namespace ax
