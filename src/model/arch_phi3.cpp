// Phi-3: the Llama decoder with fused projections: self_attn.qkv_proj holds q, k and v rows (in
// that order) and mlp.gate_up_proj holds the gate rows, then the up rows. They are split into
// row ranges of the same bytes at load; the forward is the shared decoder's.
#include <fmt/format.h>

#include "format/gguf.h"
#include "model/architecture.h"
#include "model/decoder.h"
#include "util/error.h"

namespace ax {
namespace {

DecoderLayerTensors find_phi3_tensors(const ModelSource& src, const ModelConfig& cfg, int64_t l) {
  const int64_t H = cfg.hidden_size, I = cfg.intermediate_size;
  const int64_t qw = cfg.num_heads * cfg.head_dim, kvw = cfg.num_kv_heads * cfg.head_dim;
  const std::string p = fmt::format("model.layers.{}.", l);
  DecoderLayerTensors t;
  t.input_norm = &src.get(p + "input_layernorm.weight", {H});
  t.pre_ffn_norm = &src.get(p + "post_attention_layernorm.weight", {H});
  const TensorView& qkv = src.get(p + "self_attn.qkv_proj.weight", {qw + 2 * kvw, H});
  t.q = row_slice(qkv, 0, qw);
  t.k = row_slice(qkv, qw, kvw);
  t.v = row_slice(qkv, qw + kvw, kvw);
  t.o = src.get(p + "self_attn.o_proj.weight", {H, qw});
  const TensorView& gate_up = src.get(p + "mlp.gate_up_proj.weight", {2 * I, H});
  t.gate = row_slice(gate_up, 0, I);
  t.up = row_slice(gate_up, I, I);
  t.down = src.get(p + "mlp.down_proj.weight", {H, I});
  return t;
}

std::unique_ptr<Model> make(const ModelSource& source, Backend& backend) {
  return make_decoder(source, backend, find_phi3_tensors);
}

void phi3_hf(const HfFields& c, ModelConfig& m) {
  if (parse_hf_activation(c) != Activation::Silu) fail("{}: hidden_act must be silu for phi3", c.where());
  if (m.intermediate_size <= 0) fail("{}: required field 'intermediate_size' is missing", c.where());
  if (m.rope.scaling_type != "default" && m.rope.scaling_type != "linear")
    fail("{}: phi3 rope type '{}' is not supported (longrope is not yet)", c.where(), m.rope.scaling_type);
  // transformers' Phi-3 attention windows every layer when sliding_window is set.
  const int64_t window = c.get_int_or("sliding_window", 0);
  if (window < 0) fail("{}: field 'sliding_window' must be positive, got {}", c.where(), window);
  for (LayerConfig& l : m.layers) l.window = window;
}

void phi3_gguf(const GgufFile& f, ModelConfig& m) {
  const std::string p = f.get_string("general.architecture") + ".";
  if (m.intermediate_size <= 0) fail("{}: metadata key '{}feed_forward_length' must be positive", f.path(), p);
  const int64_t window = f.get_int_or(p + "attention.sliding_window", 0);
  if (window < 0) fail("{}: metadata key '{}attention.sliding_window' is negative", f.path(), p);
  for (LayerConfig& l : m.layers) l.window = window;
}

constexpr TensorNamePair kNames[] = {
    {"ffn_norm", "post_attention_layernorm"},
    {"attn_qkv", "self_attn.qkv_proj"},
    {"ffn_up", "mlp.gate_up_proj"},  // llama.cpp keeps Phi-3's fused gate and up as ffn_up
};

}  // namespace

extern const Architecture kPhi3Arch{{"phi3"}, {"phi3"}, phi3_hf, phi3_gguf, kNames, make};

}  // namespace ax
