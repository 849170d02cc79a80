#pragma once
// The architecture-neutral description of a model, filled from a Hugging Face config.json or from
// GGUF metadata. Every field the forward pass needs is here; nothing downstream reads the files.
#include <cstdint>
#include <string>
#include <vector>

namespace ax {

enum class Arch { Llama, Mistral, Qwen2, Qwen3 };

// How RoPE pairs the dimensions of a head.
//  RotateHalf:    (x[i], x[i + d/2]) — Hugging Face checkpoints, llama.cpp's NEOX mode (Qwen).
//  AdjacentPairs: (x[2i], x[2i+1])  — llama.cpp "normal" mode. llama-architecture GGUFs store the
//                 Q/K rows permuted for it; rotating adjacent pairs of the stored rows gives the
//                 same result as rotate-half on the HF rows, so no weights are copied.
enum class RopeStyle { RotateHalf, AdjacentPairs };

struct RopeConfig {
  float theta = 10000.0f;
  RopeStyle style = RopeStyle::RotateHalf;
  std::string scaling_type = "default";  // "default", "linear", "llama3", "yarn"
  float factor = 1.0f;
  // llama3
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int64_t original_max_position = 0;
  // yarn
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
  float attention_factor = 0.0f;  // 0: derive from factor
  bool yarn_truncate = true;       // floor/ceil the correction range (HF "truncate", default true)
  int rotary_dim = 0;              // dims rotated per head (0: all of head_dim)
};

struct ModelConfig {
  Arch arch = Arch::Llama;
  std::string arch_name;  // as the file names it: "llama", "qwen3", ...
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  float rms_norm_eps = 1e-6f;
  RopeConfig rope;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;  // Qwen2
  bool qk_norm = false;   // Qwen3: per-head RMSNorm of q and k before RoPE
  // Sliding-window attention: query i sees keys j with i - window < j <= i. 0 = full attention.
  // Per layer, so mixed models (some layers windowed) are expressible.
  std::vector<int64_t> layer_window;  // [num_layers]

  // Token ids from the model's own files (-1 when absent).
  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_ids;
  int64_t pad_token_id = -1;
};

const char* arch_to_string(Arch a);

}  // namespace ax
