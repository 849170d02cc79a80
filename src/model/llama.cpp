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

#include "backend/cpu/ops.h"
#include "model/architectures.h"
#include "model/blocks.h"
#include "model/rope.h"
#include "util/error.h"

namespace ax {
namespace {

class LlamaModel final : public Model {
 public:
  explicit LlamaModel(const ModelSource& src);
  const ModelConfig& config() const override { return cfg_; }
  void forward(const Batch& batch, KvCache& kv, std::vector<float>& logits) override;
  void hidden_states(const Batch& batch, KvCache& kv, std::vector<float>& hidden) override;

 private:
  void run_layers(const Batch& batch, KvCache& kv, std::vector<float>& x);

  struct Layer {
    std::vector<float> input_norm;      // input_layernorm.weight [hidden]
    AttentionWeights attn;
    AttentionShape shape;
    std::vector<float> post_attn_norm;  // post_attention_layernorm.weight [hidden]
    const TensorView* gate = nullptr;   // mlp.gate_proj.weight [intermediate, hidden]
    const TensorView* up = nullptr;     // mlp.up_proj.weight   [intermediate, hidden]
    const TensorView* down = nullptr;   // mlp.down_proj.weight [hidden, intermediate]
  };

  ModelConfig cfg_;
  const TensorView* embed_ = nullptr;    // model.embed_tokens.weight [vocab, hidden]
  std::vector<Layer> layers_;
  std::vector<float> final_norm_;        // model.norm.weight [hidden]
  const TensorView* lm_head_ = nullptr;  // lm_head.weight [vocab, hidden] (or embed_ when tied)
  cpu::RopeFreqs rope_;
  cpu::PreparedWeight prepared_;  // packed copies of the linear weights (kept alive)
};

// A 1-D tensor of `n` values as float32, or empty when absent and not required.
std::vector<float> vector_or_empty(const ModelSource& src, const std::string& name, int64_t n, bool required) {
  if (!required && src.find(name) == nullptr) return {};
  return cpu::to_float(src.get(name, {n}));
}

LlamaModel::LlamaModel(const ModelSource& src) : cfg_(src.config()) {
  const int64_t H = cfg_.hidden_size, I = cfg_.intermediate_size, V = cfg_.vocab_size;
  const int64_t hd = cfg_.head_dim, nh = cfg_.num_heads, nkv = cfg_.num_kv_heads;
  if (H <= 0 || I <= 0 || V <= 0 || hd <= 0 || nh <= 0 || nkv <= 0 || cfg_.num_layers <= 0)
    fail("{}: config has a non-positive size (hidden {}, intermediate {}, vocab {}, head_dim {}, heads {}/{}, layers {})",
         src.path(), H, I, V, hd, nh, nkv, cfg_.num_layers);
  if (nh % nkv != 0) fail("{}: {} attention heads are not a multiple of {} kv heads", src.path(), nh, nkv);
  if (!cfg_.layer_window.empty() && static_cast<int64_t>(cfg_.layer_window.size()) != cfg_.num_layers)
    fail("{}: layer_window has {} entries for {} layers", src.path(), cfg_.layer_window.size(), cfg_.num_layers);

  embed_ = &src.get("model.embed_tokens.weight", {V, H});
  final_norm_ = vector_or_empty(src, "model.norm.weight", H, true);
  // Tied embeddings (or a file without an output matrix, as llama.cpp reads it) reuse embed_tokens.
  if (cfg_.tie_word_embeddings || src.find("lm_head.weight") == nullptr)
    lm_head_ = embed_;
  else
    lm_head_ = &src.get("lm_head.weight", {V, H});
  rope_ = make_rope_freqs(cfg_.rope, hd);

  for (int64_t l = 0; l < cfg_.num_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    Layer L;
    L.input_norm = vector_or_empty(src, p + "input_layernorm.weight", H, true);
    L.attn.q = &src.get(p + "self_attn.q_proj.weight", {nh * hd, H});
    L.attn.k = &src.get(p + "self_attn.k_proj.weight", {nkv * hd, H});
    L.attn.v = &src.get(p + "self_attn.v_proj.weight", {nkv * hd, H});
    L.attn.o = &src.get(p + "self_attn.o_proj.weight", {H, nh * hd});
    L.attn.q_bias = vector_or_empty(src, p + "self_attn.q_proj.bias", nh * hd, cfg_.qkv_bias);
    L.attn.k_bias = vector_or_empty(src, p + "self_attn.k_proj.bias", nkv * hd, cfg_.qkv_bias);
    L.attn.v_bias = vector_or_empty(src, p + "self_attn.v_proj.bias", nkv * hd, cfg_.qkv_bias);
    L.attn.o_bias = vector_or_empty(src, p + "self_attn.o_proj.bias", H, false);
    L.attn.q_norm = vector_or_empty(src, p + "self_attn.q_norm.weight", hd, cfg_.qk_norm);
    L.attn.k_norm = vector_or_empty(src, p + "self_attn.k_norm.weight", hd, cfg_.qk_norm);
    L.shape.num_heads = nh;
    L.shape.num_kv_heads = nkv;
    L.shape.head_dim = hd;
    L.shape.window = cfg_.layer_window.empty() ? 0 : cfg_.layer_window[l];
    L.shape.norm_eps = cfg_.rms_norm_eps;
    L.shape.scale = 1.0f / std::sqrt(static_cast<float>(hd));
    L.post_attn_norm = vector_or_empty(src, p + "post_attention_layernorm.weight", H, true);
    L.gate = &src.get(p + "mlp.gate_proj.weight", {I, H});
    L.up = &src.get(p + "mlp.up_proj.weight", {I, H});
    L.down = &src.get(p + "mlp.down_proj.weight", {H, I});
    layers_.push_back(std::move(L));
  }
  // In the order a decode step reads them (packed copies lie one after the other in that order).
  std::vector<const TensorView*> linears;
  for (const Layer& L : layers_)
    for (const TensorView* w : {L.attn.q, L.attn.k, L.attn.v, L.attn.o, L.gate, L.up, L.down}) linears.push_back(w);
  linears.push_back(lm_head_);
  prepared_ = cpu::prepare_linears(linears);
}

// The decoder layers over the batch: the residual stream after the last layer, x: [T, hidden].
void LlamaModel::run_layers(const Batch& batch, KvCache& kv, std::vector<float>& x) {
  const int64_t T = batch.num_tokens(), H = cfg_.hidden_size, V = cfg_.vocab_size;
  if (kv.num_layers() != cfg_.num_layers || kv.kv_width() != cfg_.num_kv_heads * cfg_.head_dim)
    fail("forward: the KV cache has {} layers of width {}, the model needs {} of width {}", kv.num_layers(),
         kv.kv_width(), cfg_.num_layers, cfg_.num_kv_heads * cfg_.head_dim);
  check_batch(batch, kv, V);

  x.resize(T * H);  // residual stream [T, hidden]
  thread_local std::vector<float> t_n, t_y;
  float* n = scratch(t_n, T * H);  // normalised input of a sub-block [T, hidden]
  float* y = scratch(t_y, T * H);  // a sub-block's output [T, hidden]
  cpu::embedding(*embed_, batch.tokens.data(), T, x.data());

  for (int64_t l = 0; l < cfg_.num_layers; ++l) {
    const Layer& L = layers_[l];
    cpu::rms_norm(x.data(), L.input_norm.data(), T, H, cfg_.rms_norm_eps, n);
    attention(L.attn, L.shape, rope_, batch, l, n, H, kv, y);
    cpu::add(x.data(), y, T * H);

    cpu::rms_norm(x.data(), L.post_attn_norm.data(), T, H, cfg_.rms_norm_eps, n);
    mlp_swiglu(*L.gate, *L.up, *L.down, n, T, y);
    cpu::add(x.data(), y, T * H);
  }
}

void LlamaModel::forward(const Batch& batch, KvCache& kv, std::vector<float>& logits) {
  const int64_t H = cfg_.hidden_size, V = cfg_.vocab_size;
  std::vector<float> x;
  run_layers(batch, kv, x);

  // Final norm and lm_head only for the rows that need logits: [R, hidden] -> [R, vocab].
  const int64_t R = static_cast<int64_t>(batch.logit_rows.size());
  std::vector<float> rows(R * H);
  for (int64_t r = 0; r < R; ++r)
    cpu::rms_norm(x.data() + batch.logit_rows[r] * H, final_norm_.data(), 1, H, cfg_.rms_norm_eps,
                  rows.data() + r * H);
  logits.resize(R * V);
  if (R > 0) cpu::linear(*lm_head_, rows.data(), R, logits.data());
}

void LlamaModel::hidden_states(const Batch& batch, KvCache& kv, std::vector<float>& hidden) {
  const int64_t T = batch.num_tokens(), H = cfg_.hidden_size;
  std::vector<float> x;
  run_layers(batch, kv, x);
  hidden.resize(T * H);
  cpu::rms_norm(x.data(), final_norm_.data(), T, H, cfg_.rms_norm_eps, hidden.data());
}

}  // namespace

std::unique_ptr<Model> make_llama_model(const ModelSource& source) {
  return std::make_unique<LlamaModel>(source);
}

}  // namespace ax
