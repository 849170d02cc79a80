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
// Hugging Face stores float experts transposed and interleaved: mlp.experts.gate_up_proj [E, H, 2I]
// used as x.W with the gate in the even columns and up in the odd ones, down_proj [E, I, H] used as
// x.W, and the biases gate_up_proj_bias [E, 2I] (interleaved alike) and down_proj_bias [E, H].
// OpenAI's released checkpoints keep the experts in MXFP4 instead (gate_up_proj_blocks/_scales,
// rows [out, in], gate and up interleaved by row). adapt_hf turns either at open into the layout
// llama.cpp's GGUFs have (and the engine's [out, in]): mlp.experts.{gate,up}_proj.weight [E, I, H],
// down_proj.weight [E, H, I] (MXFP4 stays MXFP4) and their .bias tensors ([E, I], [E, I], [E, H]),
// so one tensor finder serves both file kinds.
#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backend/backend.h"
#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "model/architecture.h"
#include "model/decoder.h"
#include "model/gguf_config.h"
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

// Float expert tensors are transposed value by value: F32, F16 or BF16 only.
void plain_type(const ModelSource& src, const TensorView& t) {
  if (dtype_info(t.dtype).block_size != 1)
    fail("{}: tensor '{}' is {}; gpt-oss's float experts must be F32, F16 or BF16", src.origin(t.name), t.name,
         dtype_name(t.dtype));
}

// A U8 tensor of a checkpoint (get() refuses U8: it is no weight type), checked against `shape`.
const TensorView& u8_tensor(const ModelSource& src, const std::string& name, const std::vector<int64_t>& shape) {
  const TensorView* t = src.find(name);
  if (t == nullptr) fail("{}: tensor '{}' is missing", src.path(), name);
  if (t->dtype != DType::U8 || t->shape != shape)
    fail("{}: tensor '{}' is {} [{}], expected U8 [{}]", src.origin(name), name, dtype_name(t->dtype),
         fmt::join(t->shape, ", "), fmt::join(shape, ", "));
  return *t;
}

// HF's MXFP4 experts (transformers' layout, not transposed): blocks [E, R, C/32, 16] and scales
// [E, R, C/32] for R rows of C values; byte j of a block holds value 2j in its low nibble and 2j + 1
// in its high one, the scale byte is the E8M0 exponent (value = E2M1(code) * 2^(e - 127), the same
// number as GGML's doubled table times 2^(e - 128)). Rows first, first + step, ... (count of them)
// -> GGUF MXFP4 [E, count, C]: per block the scale byte, then byte j = value j | value j + 16 << 4.
std::vector<uint8_t> mxfp4_rows_to_gguf(const TensorView& blocks, const TensorView& scales, int64_t first,
                                         int64_t step, int64_t count) {
  const int64_t E = blocks.shape[0], R = blocks.shape[1], G = blocks.shape[2];
  std::vector<uint8_t> out(static_cast<size_t>(E * count * G) * 17);
  uint8_t* o = out.data();
  for (int64_t e = 0; e < E; ++e)
    for (int64_t j = 0; j < count; ++j)
      for (int64_t g = 0; g < G; ++g, o += 17) {
        const int64_t at = (e * R + first + j * step) * G + g;
        const uint8_t* b = blocks.data + at * 16;
        uint8_t v[32];
        for (int i = 0; i < 16; ++i) {
          v[2 * i] = b[i] & 0x0f;
          v[2 * i + 1] = b[i] >> 4;
        }
        o[0] = scales.data[at];
        for (int i = 0; i < 16; ++i) o[1 + i] = static_cast<uint8_t>(v[i] | (v[i + 16] << 4));
      }
  return out;
}

void adapt_hf(ModelSource& src) {
  const ModelConfig& c = src.config();
  const int64_t E = c.moe.num_experts, I = c.moe.expert_intermediate, H = c.hidden_size;
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.mlp.experts.", l);
    std::vector<std::string> done = {"gate_up_proj_bias", "down_proj_bias"};
    if (src.find(p + "gate_up_proj_blocks") != nullptr) {  // MXFP4, as OpenAI released the models
      if (H % 32 != 0 || I % 32 != 0)
        fail("{}: MXFP4 experts need widths in blocks of 32 (hidden {}, intermediate {})", src.path(), H, I);
      const TensorView& gu_blocks = u8_tensor(src, p + "gate_up_proj_blocks", {E, 2 * I, H / 32, 16});
      const TensorView& gu_scales = u8_tensor(src, p + "gate_up_proj_scales", {E, 2 * I, H / 32});
      const TensorView& d_blocks = u8_tensor(src, p + "down_proj_blocks", {E, H, I / 32, 16});
      const TensorView& d_scales = u8_tensor(src, p + "down_proj_scales", {E, H, I / 32});
      src.add_owned(p + "gate_proj.weight", DType::MXFP4, {E, I, H}, mxfp4_rows_to_gguf(gu_blocks, gu_scales, 0, 2, I));
      src.add_owned(p + "up_proj.weight", DType::MXFP4, {E, I, H}, mxfp4_rows_to_gguf(gu_blocks, gu_scales, 1, 2, I));
      src.add_owned(p + "down_proj.weight", DType::MXFP4, {E, H, I}, mxfp4_rows_to_gguf(d_blocks, d_scales, 0, 1, H));
      done.insert(done.end(), {"gate_up_proj_blocks", "gate_up_proj_scales", "down_proj_blocks", "down_proj_scales"});
    } else {  // float experts, transposed
      const TensorView gate_up = src.get(p + "gate_up_proj", {E, H, 2 * I});
      const TensorView down = src.get(p + "down_proj", {E, I, H});
      for (const TensorView* t : {&gate_up, &down}) plain_type(src, *t);
      src.add_owned(p + "gate_proj.weight", gate_up.dtype, {E, I, H}, columns_as_rows(gate_up, 0, 2, I));
      src.add_owned(p + "up_proj.weight", gate_up.dtype, {E, I, H}, columns_as_rows(gate_up, 1, 2, I));
      src.add_owned(p + "down_proj.weight", down.dtype, {E, H, I}, columns_as_rows(down, 0, 1, H));
      done.insert(done.end(), {"gate_up_proj", "down_proj"});
    }
    // The biases, as one-row matrices: gate and up interleaved by column.
    TensorView gate_up_bias = src.get(p + "gate_up_proj_bias", {E, 2 * I});
    TensorView down_bias = src.get(p + "down_proj_bias", {E, H});
    for (const TensorView* t : {&gate_up_bias, &down_bias}) plain_type(src, *t);
    gate_up_bias.shape = {E, 1, 2 * I};
    down_bias.shape = {E, 1, H};
    src.add_owned(p + "gate_proj.bias", gate_up_bias.dtype, {E, I}, columns_as_rows(gate_up_bias, 0, 2, I));
    src.add_owned(p + "up_proj.bias", gate_up_bias.dtype, {E, I}, columns_as_rows(gate_up_bias, 1, 2, I));
    src.add_owned(p + "down_proj.bias", down_bias.dtype, {E, H}, columns_as_rows(down_bias, 0, 1, H));
    for (const std::string& name : done) src.remove(p + name);
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
  const std::vector<bool> sliding = gguf_sliding_layers(f, m.num_layers, 2);
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

// The common export writes the sliding pattern and the sliding layers' RoPE base
// (model/gguf_export.h); what gpt_oss_gguf could not read back is refused here.
void gpt_oss_to_gguf(const ModelConfig& m, GgufWriter&) {
  for (const LayerConfig& lc : m.layers) {
    if (lc.rope.scaling_type == "yarn" && lc.rope.yarn_truncate)
      fail("GGUF export: gpt-oss with YaRN's correction range rounded (\"truncate\": true) has no GGUF form");
    if (lc.window == 0 && lc.rope.theta != m.rope.theta)
      fail("GGUF export: a gpt-oss full-attention layer with RoPE base {} (the model's is {}) has no GGUF form",
           lc.rope.theta, m.rope.theta);
  }
}

constexpr TensorNamePair kNames[] = {
    {"post_attention_norm", "post_attention_layernorm"},
    {"attn_sinks.weight", "self_attn.sinks"},
    {"ffn_gate_inp", "mlp.router"},
};

}  // namespace

extern const Architecture kGptOssArch{{"gpt_oss"}, {"gpt-oss"}, gpt_oss_hf,      gpt_oss_gguf,
                                      kNames,      make,        gpt_oss_to_gguf, adapt_hf};

}  // namespace ax
