// The Llama-family decoder (Llama 2/3, Mistral, Qwen2, Qwen3), one forward pass per step:
//
//   x_0 = embed(tokens)
//   for each layer l:
//     x += o_proj(attention(rope(q_norm?(q_proj(n) + b_q)), rope(k_norm?(k_proj(n) + b_k)),
//                           v_proj(n) + b_v)),               n = rms_norm(x, input_layernorm)
//     x += down(silu(gate(n')) * up(n')),                    n' = rms_norm(x, post_attention_layernorm)
//   logits = lm_head(rms_norm(x, norm))                      only for the requested rows
//
// Variants: Mistral windows attention per layer; Qwen2 adds q/k/v biases; Qwen3 RMS-normalises each
// head of q and k before RoPE. Tied models use embed_tokens as lm_head.
#include <cmath>
#include <fmt/format.h>

#include "format/dequant.h"
#include "format/gguf.h"
#include "model/architecture.h"
#include "model/blocks.h"
#include "model/model.h"
#include "model/rope.h"
#include "util/error.h"

namespace ax {
namespace {

class LlamaModel final : public Model {
 public:
  LlamaModel(const ModelSource& src, Backend& be);
  const ModelConfig& config() const override { return cfg_; }
  Backend& backend() const override { return be_; }
  Tensor forward(const StepInput& step, KvCache& kv) override;
  Tensor hidden_states(const StepInput& step, KvCache& kv) override;

 private:
  // The whole pass; with_logits false stops at the final norm of every row.
  Tensor run(const StepInput& step, KvCache& kv, bool with_logits);
  Tensor compute(const StepView& step, KvCache& kv, bool with_logits);

  struct Layer {
    DeviceVector input_norm;       // input_layernorm.weight [hidden]
    AttentionWeights attn;
    AttentionParams shape;
    DeviceVector post_attn_norm;   // post_attention_layernorm.weight [hidden]
    const Weight* gate = nullptr;  // mlp.gate_proj.weight [intermediate, hidden]
    const Weight* up = nullptr;    // mlp.up_proj.weight   [intermediate, hidden]
    const Weight* down = nullptr;  // mlp.down_proj.weight [hidden, intermediate]
  };

  ModelConfig cfg_;
  Backend& be_;
  std::vector<WeightPtr> linears_;  // every layer's projections, then lm_head (decode order)
  WeightPtr embed_table_;           // model.embed_tokens.weight [vocab, hidden], unless tied
  const Weight* embed_ = nullptr;   // the table embedding reads (lm_head itself when tied)
  std::vector<Layer> layers_;
  DeviceVector final_norm_;         // model.norm.weight [hidden]
  const Weight* lm_head_ = nullptr; // lm_head.weight [vocab, hidden] (or embed_tokens when tied)
  RopeTable rope_;
  Workspace ws_;
  std::mutex mu_;  // one pass at a time (the engine's thread, and the server's embeddings)
};

// A 1-D tensor of `n` values as float32 on the backend, or empty when absent and not required.
DeviceVector vector_or_empty(Backend& be, const ModelSource& src, const std::string& name, int64_t n, bool required) {
  if (!required && src.find(name) == nullptr) return {};
  return be.load_vector(dequantize(src.get(name, {n})));
}

LlamaModel::LlamaModel(const ModelSource& src, Backend& be) : cfg_(src.config()), be_(be), ws_(be) {
  const int64_t H = cfg_.hidden_size, I = cfg_.intermediate_size, V = cfg_.vocab_size;
  const int64_t hd = cfg_.head_dim, nh = cfg_.num_heads, nkv = cfg_.num_kv_heads;
  if (H <= 0 || V <= 0 || hd <= 0 || nh <= 0 || nkv <= 0 || cfg_.num_layers <= 0)
    fail("{}: config has a non-positive size (hidden {}, intermediate {}, vocab {}, head_dim {}, heads {}/{}, layers {})",
         src.path(), H, I, V, hd, nh, nkv, cfg_.num_layers);
  if (nh % nkv != 0) fail("{}: {} attention heads are not a multiple of {} kv heads", src.path(), nh, nkv);
  if (static_cast<int64_t>(cfg_.layers.size()) != cfg_.num_layers)
    fail("{}: config describes {} layers of {}", src.path(), cfg_.layers.size(), cfg_.num_layers);
  if (I <= 0) fail("{}: intermediate_size must be positive, got {}", src.path(), I);

  const TensorView& embed = src.get("model.embed_tokens.weight", {V, H});
  final_norm_ = vector_or_empty(be, src, "model.norm.weight", H, true);
  // Tied embeddings (or a file without an output matrix, as llama.cpp reads it) reuse embed_tokens.
  const bool tied = cfg_.tie_word_embeddings || src.find("lm_head.weight") == nullptr;
  const TensorView& lm_head = tied ? embed : src.get("lm_head.weight", {V, H});
  rope_ = be.load_rope(make_rope_freqs(cfg_.rope, hd));

  // The projections in the order a decode step reads them (a backend may lay them out so).
  std::vector<const TensorView*> linears;
  for (int64_t l = 0; l < cfg_.num_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    for (auto [name, rows, cols] : {std::tuple{"self_attn.q_proj.weight", nh * hd, H}, {"self_attn.k_proj.weight", nkv * hd, H},
                                    {"self_attn.v_proj.weight", nkv * hd, H}, {"self_attn.o_proj.weight", H, nh * hd},
                                    {"mlp.gate_proj.weight", I, H}, {"mlp.up_proj.weight", I, H},
                                    {"mlp.down_proj.weight", H, I}})
      linears.push_back(&src.get(p + name, {rows, cols}));
  }
  linears.push_back(&lm_head);
  linears_ = be.load_linears(linears);
  lm_head_ = linears_.back().get();
  if (tied) {
    embed_ = lm_head_;
  } else {
    embed_table_ = be.load_table(embed);
    embed_ = embed_table_.get();
  }

  for (int64_t l = 0; l < cfg_.num_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    const WeightPtr* w = &linears_[l * 7];
    Layer L;
    L.input_norm = vector_or_empty(be, src, p + "input_layernorm.weight", H, true);
    L.attn.q = w[0].get();
    L.attn.k = w[1].get();
    L.attn.v = w[2].get();
    L.attn.o = w[3].get();
    L.gate = w[4].get();
    L.up = w[5].get();
    L.down = w[6].get();
    L.attn.q_bias = vector_or_empty(be, src, p + "self_attn.q_proj.bias", nh * hd, cfg_.qkv_bias);
    L.attn.k_bias = vector_or_empty(be, src, p + "self_attn.k_proj.bias", nkv * hd, cfg_.qkv_bias);
    L.attn.v_bias = vector_or_empty(be, src, p + "self_attn.v_proj.bias", nkv * hd, cfg_.qkv_bias);
    L.attn.o_bias = vector_or_empty(be, src, p + "self_attn.o_proj.bias", H, false);
    L.attn.q_norm = vector_or_empty(be, src, p + "self_attn.q_norm.weight", hd, cfg_.qk_norm);
    L.attn.k_norm = vector_or_empty(be, src, p + "self_attn.k_norm.weight", hd, cfg_.qk_norm);
    L.shape.num_heads = nh;
    L.shape.num_kv_heads = nkv;
    L.shape.head_dim = hd;
    L.shape.window = cfg_.layers[l].window;
    L.shape.scale = 1.0f / std::sqrt(static_cast<float>(hd));
    L.post_attn_norm = vector_or_empty(be, src, p + "post_attention_layernorm.weight", H, true);
    layers_.push_back(std::move(L));
  }
}

Tensor LlamaModel::forward(const StepInput& step, KvCache& kv) { return run(step, kv, true); }
Tensor LlamaModel::hidden_states(const StepInput& step, KvCache& kv) { return run(step, kv, false); }

Tensor LlamaModel::run(const StepInput& step, KvCache& kv, bool with_logits) {
  std::lock_guard<std::mutex> lock(mu_);
  const KvShape want = kv_shape();
  if (kv.num_layers() != want.num_layers || kv.num_kv_heads() != want.num_kv_heads || kv.head_dim() != want.head_dim)
    fail("forward: the KV cache has {} layers of {} kv heads x {}, the model needs {} of {} x {}", kv.num_layers(),
         kv.num_kv_heads(), kv.head_dim(), want.num_layers, want.num_kv_heads, want.head_dim);
  if (&kv.backend() != &be_) fail("forward: the KV cache lives on another backend than the model");
  if (step.block_size() != kv.block_size())
    fail("forward: the step addresses blocks of {} slots, the KV cache has {}", step.block_size(), kv.block_size());
  step.validate(kv.num_blocks(), cfg_.vocab_size);

  const int64_t T = step.num_tokens(), R = with_logits ? step.num_logit_rows() : 0;
  const int64_t H = cfg_.hidden_size, I = cfg_.intermediate_size, V = cfg_.vocab_size;
  const int64_t qw = cfg_.num_heads * cfg_.head_dim, kvw = cfg_.num_kv_heads * cfg_.head_dim;
  // x, n, y [T, H]; q, ctx [T, qw]; k, v [T, kvw]; gate, up [T, I]; final rows [R, H], logits [R, V]
  // (each rounded up to 16 floats by the workspace).
  const int64_t pad = 16;
  ws_.reserve(T * (3 * H + 2 * qw + 2 * kvw + 2 * I) + R * (H + V) + 11 * pad);
  // A forward pass enqueues the same ops for every step with the same token, sequence and logit-row
  // counts: replayable (hidden states are a rarer shape; not worth recording).
  return be_.run_step(step, kv, /*replayable=*/with_logits,
                      [&](const StepView& view) { return compute(view, kv, with_logits); });
}

Tensor LlamaModel::compute(const StepView& step, KvCache& kv, bool with_logits) {
  const StepInput& in = *step.host;
  const int64_t T = in.num_tokens(), H = cfg_.hidden_size, I = cfg_.intermediate_size;
  const int64_t qw = cfg_.num_heads * cfg_.head_dim, kvw = cfg_.num_kv_heads * cfg_.head_dim;
  ws_.reset();
  Tensor x = ws_.take(T, H);  // residual stream [T, hidden]
  Tensor n = ws_.take(T, H);  // normalised input of a sub-block [T, hidden]
  Tensor y = ws_.take(T, H);  // a sub-block's output [T, hidden]
  AttentionScratch a{ws_.take(T, qw), ws_.take(T, kvw), ws_.take(T, kvw), ws_.take(T, qw)};
  Tensor gate = ws_.take(T, I), up = ws_.take(T, I);  // [T, intermediate]

  be_.embedding(*embed_, step, x);
  be_.rms_norm(x, layers_[0].input_norm, cfg_.rms_norm_eps, n);
  for (int64_t l = 0; l < cfg_.num_layers; ++l) {
    const Layer& L = layers_[l];
    attention_block(be_, L.attn, L.shape, cfg_.rms_norm_eps, rope_, step, kv, l, n, a, y);
    be_.add_rms_norm(x, y, L.post_attn_norm, cfg_.rms_norm_eps, n);  // x += attention; n' = norm(x)

    mlp_swiglu(be_, *L.gate, *L.up, *L.down, n, gate, up, y);
    if (l + 1 < cfg_.num_layers) {
      be_.add_rms_norm(x, y, layers_[l + 1].input_norm, cfg_.rms_norm_eps, n);  // and the next layer's n
    } else {
      be_.add(x, y);
    }
  }

  if (!with_logits) {  // hidden states: every row, final-normed [T, hidden]
    be_.rms_norm(x, final_norm_, cfg_.rms_norm_eps, n);
    return n;
  }
  // Final norm and lm_head only for the rows that need logits: [R, hidden] -> [R, vocab].
  const int64_t R = in.num_logit_rows();
  Tensor rows = ws_.take(R, H), logits = ws_.take(R, cfg_.vocab_size);
  if (R == 0) return logits;
  be_.gather_logit_rows(step, x, rows);
  be_.rms_norm(rows, final_norm_, cfg_.rms_norm_eps, rows);
  be_.linear(*lm_head_, rows, logits);
  return logits;
}

std::unique_ptr<Model> make(const ModelSource& source, Backend& backend) {
  return std::make_unique<LlamaModel>(source, backend);
}

// ---- config -----------------------------------------------------------------------------------------

// What none of the four supports, whatever the family.
void check_hf_common(const HfFields& c, ModelConfig& m) {
  if (parse_hf_activation(c) != Activation::Silu)
    fail("{}: hidden_act '{}' is not supported for {} (only silu)", c.where(), c.get_string_or("hidden_act", ""),
         m.arch_name);
  if (c.get_bool_or("mlp_bias", false)) fail("{}: mlp_bias true is not supported", c.where());
  if (m.intermediate_size <= 0) fail("{}: required field 'intermediate_size' is missing", c.where());
}

// Qwen2/Qwen3 carry a sliding_window value but use it only with use_sliding_window true; then
// layer_types says which layers, else the layers from max_window_layers on.
void qwen_windows(const HfFields& c, ModelConfig& m) {
  if (!c.get_bool_or("use_sliding_window", false)) return;
  const int64_t window = c.get_int_or("sliding_window", 0);
  if (window == 0) return;
  if (window < 0) fail("{}: field 'sliding_window' must be positive, got {}", c.where(), window);
  if (parse_hf_layer_types(c, window, m.layers)) return;
  const int64_t first = c.get_int_or("max_window_layers", 0);
  for (int64_t i = std::max<int64_t>(first, 0); i < m.num_layers; ++i) m.layers[i].window = window;
}

void llama_hf(const HfFields& c, ModelConfig& m) {
  check_hf_common(c, m);
  if (c.get_bool_or("attention_bias", false))
    fail("{}: attention_bias true (biases on q/k/v/o projections) is not supported", c.where());
}

void mistral_hf(const HfFields& c, ModelConfig& m) {
  llama_hf(c, m);
  const int64_t window = c.get_int_or("sliding_window", 0);
  if (window < 0) fail("{}: field 'sliding_window' must be positive, got {}", c.where(), window);
  if (window > 0 && !parse_hf_layer_types(c, window, m.layers))
    for (LayerConfig& l : m.layers) l.window = window;
}

void qwen2_hf(const HfFields& c, ModelConfig& m) {
  check_hf_common(c, m);  // attention_bias: q/k/v biases by construction (no o_proj bias), whatever it says
  m.qkv_bias = true;
  qwen_windows(c, m);
}

void qwen3_hf(const HfFields& c, ModelConfig& m) {
  check_hf_common(c, m);
  if (c.get_bool_or("attention_bias", false))
    fail("{}: attention_bias true (biases on q/k/v/o projections) is not supported", c.where());
  m.qk_norm = true;
  qwen_windows(c, m);
}

void check_gguf_common(const GgufFile& f, ModelConfig& m) {
  if (m.intermediate_size <= 0)
    fail("{}: metadata key '{}.feed_forward_length' must be positive", f.path(), f.get_string("general.architecture"));
  const std::string p = f.get_string("general.architecture") + ".";
  const int64_t window = f.get_int_or(p + "attention.sliding_window", 0);
  if (window < 0) fail("{}: metadata key '{}attention.sliding_window' is negative", f.path(), p);
  for (LayerConfig& l : m.layers) l.window = window;
  m.qkv_bias = f.tensor("blk.0.attn_q.bias") != nullptr;
  if (f.tensor("blk.0.attn_output.bias"))
    fail("{}: tensor 'blk.0.attn_output.bias' (attention output bias) is not supported", f.path());
  m.qk_norm = m.arch_name == "qwen3" || f.tensor("blk.0.attn_q_norm.weight") != nullptr;
}

// llama.cpp's converter permutes the Q/K rows of these for its "normal" RoPE mode.
void adjacent_pairs_gguf(const GgufFile& f, ModelConfig& m) {
  check_gguf_common(f, m);
  m.rope.style = RopeStyle::AdjacentPairs;
  for (LayerConfig& l : m.layers) l.rope.style = RopeStyle::AdjacentPairs;
}

constexpr TensorNamePair kNames[] = {
    {"ffn_norm", "post_attention_layernorm"},
    // Some converters name the post-attention norm like this (same tensor role).
    {"post_attention_norm", "post_attention_layernorm"},
};

}  // namespace

// llama.cpp converts Mistral checkpoints as "llama" too; "mistral" GGUFs exist as well.
extern const Architecture kLlamaArch{{"llama"}, {"llama"}, llama_hf, adjacent_pairs_gguf, kNames, make};
extern const Architecture kMistralArch{{"mistral"}, {"mistral"}, mistral_hf, adjacent_pairs_gguf, kNames, make};
extern const Architecture kQwen2Arch{{"qwen2"}, {"qwen2"}, qwen2_hf, check_gguf_common, kNames, make};
extern const Architecture kQwen3Arch{{"qwen3"}, {"qwen3"}, qwen3_hf, check_gguf_common, kNames, make};

}  // namespace ax
