// gpt-oss (GptOssForCausalLM; GGUF "gpt-oss"): a GQA decoder whose every feed-forward block is a
// mixture of experts, with:
//   - q/k/v/o biases and one attention-sink logit per head (self_attn.sinks) joining each softmax;
//   - layers alternating sliding-window and full attention (layer_types; sliding on even layers);
//   - YaRN RoPE whose correction range is not rounded ("truncate": false in the released configs,
//     as OpenAI's reference implementation computes it). GGUF has no key for it: gpt-oss GGUFs get
//     the same. (llama.cpp rounds it for every model; on the gpt_oss fixture that alone moves its
//     logits away from transformers', and with the rounding this engine matches llama.cpp's.)
//   - a router with a bias: the top_k logits, then a softmax over those alone (MoeRouting::TopKSoftmax);
//   - experts with biases and the clamped SwiGLU (Activation::SiluClamped).
//
// Hugging Face stores the experts transposed and interleaved: mlp.experts.gate_up_proj [E, H, 2I]
// used as x.W with the gate in the even columns and up in the odd ones, down_proj [E, I, H] used as
// x.W, and the biases gate_up_proj_bias [E, 2I] (interleaved alike) and down_proj_bias [E, H].
// adapt_hf turns them at open into the layout llama.cpp's GGUFs have (and the engine's [out, in]):
// mlp.experts.{gate,up}_proj.weight [E, I, H], down_proj.weight [E, H, I] and their .bias tensors
// ([E, I], [E, I], [E, H]), so one tensor finder serves both.
#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "backend/backend.h"
#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "model/architecture.h"
#include "model/decoder.h"
#include "model/model_source.h"
#include "util/error.h"

namespace ax {
namespace {

// For a [E, R, C] tensor of a plain (one value per block) type: out[e][j][r] = in[e][r][first +
// j * step] for j < count, i.e. every step-th column from `first` becomes a row: [E, count, R].
std::vector<uint8_t> columns_as_rows(const TensorView& t, int64_t first, int64_t step, int64_t count) {
  const int64_t E = t.shape[0], R = t.shape[1], C = t.shape[2];
  const size_t es = dtype_info(t.dtype).type_size;
  std::vector<uint8_t> out(static_cast<size_t>(E * count * R) * es);
  for (int64_t e = 0; e < E; ++e)
    for (int64_t j = 0; j < count; ++j)
      for (int64_t r = 0; r < R; ++r)
        std::memcpy(out.data() + static_cast<size_t>((e * count + j) * R + r) * es,
                    t.data + static_cast<size_t>((e * R + r) * C + first + j * step) * es, es);
  return out;
}

void adapt_hf(ModelSource& src) {
  const ModelConfig& c = src.config();
  const int64_t E = c.moe.num_experts, I = c.moe.expert_intermediate, H = c.hidden_size;
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.mlp.experts.", l);
    if (src.find(p + "gate_up_proj_blocks") != nullptr)
      fail("{}: layer {} holds its experts as MXFP4 blocks and scales, which this engine does not read from "
           "Hugging Face folders yet (convert the model to GGUF, or use a BF16 copy)", src.path(), l);
    TensorView gate_up = src.get(p + "gate_up_proj", {E, H, 2 * I});
    TensorView gate_up_bias = src.get(p + "gate_up_proj_bias", {E, 2 * I});
    TensorView down = src.get(p + "down_proj", {E, I, H});
    TensorView down_bias = src.get(p + "down_proj_bias", {E, H});
    for (const TensorView* t : {&gate_up, &gate_up_bias, &down, &down_bias})
      if (dtype_info(t->dtype).block_size != 1)
        fail("{}: tensor '{}' is {}; gpt-oss experts are read from F32, F16 or BF16 checkpoints", src.origin(t->name),
             t->name, dtype_name(t->dtype));
    gate_up_bias.shape = {E, 1, 2 * I};  // the biases as one-row matrices
    down_bias.shape = {E, 1, H};
    src.add_owned(p + "gate_proj.weight", gate_up.dtype, {E, I, H}, columns_as_rows(gate_up, 0, 2, I));
    src.add_owned(p + "up_proj.weight", gate_up.dtype, {E, I, H}, columns_as_rows(gate_up, 1, 2, I));
    src.add_owned(p + "down_proj.weight", down.dtype, {E, H, I}, columns_as_rows(down, 0, 1, H));
    src.add_owned(p + "gate_proj.bias", gate_up_bias.dtype, {E, I}, columns_as_rows(gate_up_bias, 0, 2, I));
    src.add_owned(p + "up_proj.bias", gate_up_bias.dtype, {E, I}, columns_as_rows(gate_up_bias, 1, 2, I));
    src.add_owned(p + "down_proj.bias", down_bias.dtype, {E, H}, columns_as_rows(down_bias, 0, 1, H));
    for (const char* name : {"gate_up_proj", "gate_up_proj_bias", "down_proj", "down_proj_bias"}) src.remove(p + name);
  }
}

DecoderLayerTensors find_gpt_oss_tensors(const ModelSource& src, const ModelConfig& cfg, int64_t l) {
  const int64_t H = cfg.hidden_size, E = cfg.moe.num_experts, I = cfg.moe.expert_intermediate;
  const std::string p = fmt::format("model.layers.{}.", l);
  DecoderLayerTensors t;
  find_llama_attention(src, cfg, l, t);
  t.sinks = &src.get(p + "self_attn.sinks", {cfg.num_heads});
  t.router = &src.get(p + "mlp.router.weight", {E, H});
  t.router_bias = &src.get(p + "mlp.router.bias", {E});
  const std::string x = p + "mlp.experts.";
  const TensorView &gate = src.get(x + "gate_proj.weight", {E, I, H}), &up = src.get(x + "up_proj.weight", {E, I, H}),
                   &down = src.get(x + "down_proj.weight", {E, H, I});
  const TensorView &gate_b = src.get(x + "gate_proj.bias", {E, I}), &up_b = src.get(x + "up_proj.bias", {E, I}),
                   &down_b = src.get(x + "down_proj.bias", {E, H});
  for (int64_t e = 0; e < E; ++e) {
    t.experts.push_back({expert_slice(gate, e), expert_slice(up, e), expert_slice(down, e)});
    t.expert_biases.push_back({expert_slice(gate_b, e), expert_slice(up_b, e), expert_slice(down_b, e)});
  }
  return t;
}

std::unique_ptr<Model> make(const ModelSource& source, Backend& backend) {
  return make_decoder(source, backend, find_gpt_oss_tensors);
}

// What both file kinds share once the sizes are read.
void finish(ModelConfig& m, const std::string& where) {
  m.activation = Activation::SiluClamped;
  m.moe.routing = MoeRouting::TopKSoftmax;
  m.moe.validate(where);
  for (LayerConfig& l : m.layers) l.moe = true;
}

void gpt_oss_hf(const HfFields& c, ModelConfig& m) {
  if (parse_hf_activation(c) != Activation::Silu) fail("{}: hidden_act must be silu for gpt_oss", c.where());
  // transformers hard-codes the clamp's alpha (1.702); the limit is a config field.
  if (c.get_float_or("swiglu_limit", kGluClampLimit) != kGluClampLimit)
    fail("{}: field 'swiglu_limit' must be {} (the only clamp this engine's kernels apply)", c.where(), kGluClampLimit);
  // GptOssConfig's defaults: attention biases on, window 128 on even layers.
  m.qkv_bias = c.get_bool_or("attention_bias", true);
  const int64_t window = c.get_int_or("sliding_window", 128);
  if (window <= 0) fail("{}: field 'sliding_window' must be positive, got {}", c.where(), window);
  if (!parse_hf_layer_types(c, window, m.layers))
    for (int64_t l = 0; l < m.num_layers; ++l) m.layers[l].window = l % 2 == 0 ? window : 0;
  m.moe.num_experts = c.get_int_or("num_local_experts", 0);
  m.moe.top_k = c.get_int_or("num_experts_per_tok", 0);
  m.moe.expert_intermediate = m.intermediate_size;
  finish(m, c.where());
}

// llama.cpp's gpt-oss keys: attention.sliding_window (required), attention.sliding_window_pattern
// (a per-layer list of bools, or every n-th layer full; default 2: sliding on even layers),
// rope.freq_base_swa for the sliding layers.
void gpt_oss_gguf(const GgufFile& f, ModelConfig& m) {
  const std::string p = f.get_string("general.architecture") + ".";
  m.qkv_bias = f.tensor("blk.0.attn_q.bias") != nullptr;
  const int64_t window = f.get_int(p + "attention.sliding_window");
  if (window <= 0) fail("{}: metadata key '{}attention.sliding_window' must be positive", f.path(), p);
  std::vector<bool> sliding(static_cast<size_t>(m.num_layers));
  const GgufValue* pattern = f.find(p + "attention.sliding_window_pattern");
  if (pattern != nullptr && pattern->type == GgufType::ARRAY) {
    const GgufArray& a = pattern->as_array();
    if (static_cast<int64_t>(a.items.size()) != m.num_layers)
      fail("{}: metadata key '{}attention.sliding_window_pattern' lists {} layers of {}", f.path(), p, a.items.size(),
           m.num_layers);
    for (size_t l = 0; l < a.items.size(); ++l) sliding[l] = a.items[l].as_int() != 0;
  } else {
    const int64_t n = pattern != nullptr ? pattern->as_int() : 2;
    if (n < 0) fail("{}: metadata key '{}attention.sliding_window_pattern' is negative", f.path(), p);
    for (int64_t l = 0; l < m.num_layers; ++l) sliding[l] = n == 0 || l % n < n - 1;
  }
  // GGUF has no key for YaRN's "truncate": gpt-oss's own definition does not round the correction
  // range (llama.cpp rounds it for every model; the two differ slightly).
  m.rope.yarn_truncate = false;
  for (LayerConfig& l : m.layers) l.rope.yarn_truncate = false;
  const float swa_theta = static_cast<float>(f.get_float_or(p + "rope.freq_base_swa", m.rope.theta));
  if (!(swa_theta > 0)) fail("{}: metadata key '{}rope.freq_base_swa' must be positive", f.path(), p);
  for (int64_t l = 0; l < m.num_layers; ++l)
    if (sliding[l]) {
      m.layers[l].window = window;
      m.layers[l].rope.theta = swa_theta;
    }
  m.moe.num_experts = f.get_int_or(p + "expert_count", 0);
  m.moe.top_k = f.get_int_or(p + "expert_used_count", 0);
  m.moe.expert_intermediate = f.get_int_or(p + "expert_feed_forward_length", 0);
  finish(m, f.path());
}

// The inverse of gpt_oss_gguf: the sliding layers as a per-layer list unless they are llama.cpp's
// default (every even layer), and their RoPE base where it is not the model's.
void gpt_oss_to_gguf(GgufWriter& w, const ModelConfig& m) {
  const std::string p = "gpt-oss.";
  std::vector<int32_t> sliding;
  bool even = true;
  float swa_theta = 0.0f;
  for (int64_t l = 0; l < m.num_layers; ++l) {
    const LayerConfig& lc = m.layers[l];
    sliding.push_back(lc.window > 0 ? 1 : 0);
    even = even && (lc.window > 0) == (l % 2 == 0);
    if (lc.rope.scaling_type == "yarn" && lc.rope.yarn_truncate)
      fail("GGUF export: gpt-oss with YaRN's correction range rounded (\"truncate\": true) has no GGUF form");
    if (lc.window == 0 && lc.rope.theta != m.rope.theta)
      fail("GGUF export: a gpt-oss full-attention layer with RoPE base {} (the model's is {}) has no GGUF form",
           lc.rope.theta, m.rope.theta);
    if (lc.window > 0 && swa_theta != 0.0f && lc.rope.theta != swa_theta)
      fail("GGUF export: gpt-oss sliding layers with different RoPE bases have no GGUF form");
    if (lc.window > 0) swa_theta = lc.rope.theta;
  }
  if (!even) w.set_i32s(p + "attention.sliding_window_pattern", sliding);
  if (swa_theta != 0.0f && swa_theta != m.rope.theta) w.set_f32(p + "rope.freq_base_swa", swa_theta);
}

constexpr TensorNamePair kNames[] = {
    {"post_attention_norm", "post_attention_layernorm"},
    {"attn_sinks.weight", "self_attn.sinks"},
    {"ffn_gate_inp", "mlp.router"},
};

}  // namespace

extern const Architecture kGptOssArch{{"gpt_oss"}, {"gpt-oss"}, gpt_oss_hf,      gpt_oss_gguf,
                                      kNames,      make,        adapt_hf,        gpt_oss_to_gguf};

}  // namespace ax
