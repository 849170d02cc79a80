#include "model/decoder.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <optional>

#include <fmt/format.h>

#include "format/dequant.h"
#include "model/blocks.h"
#include "model/rope.h"
#include "util/error.h"

namespace ax {

TensorView row_slice(const TensorView& t, int64_t r0, int64_t n) {
  if (t.shape.size() != 2 || r0 < 0 || n <= 0 || r0 + n > t.shape[0])
    fail("tensor '{}': rows [{}, {}) are outside its {} rows", t.name, r0, r0 + n, t.rows());
  TensorView s = t;
  const size_t rb = row_bytes(t.dtype, t.cols());
  s.name = fmt::format("{}[{}:{}]", t.name, r0, r0 + n);
  s.shape = {n, t.cols()};
  s.data = t.data + static_cast<size_t>(r0) * rb;
  s.nbytes = static_cast<size_t>(n) * rb;
  return s;
}

TensorView expert_slice(const TensorView& t, int64_t e) {
  if ((t.shape.size() != 3 && t.shape.size() != 2) || e < 0 || e >= t.shape[0])
    fail("tensor '{}': expert {} is outside its {} experts", t.name, e, t.shape.empty() ? 0 : t.shape[0]);
  TensorView s = t;
  s.shape.erase(s.shape.begin());
  const size_t bytes = row_bytes(t.dtype, s.shape.back()) * static_cast<size_t>(s.shape.size() == 2 ? s.shape[0] : 1);
  s.name = fmt::format("{}[{}]", t.name, e);
  s.data = t.data + static_cast<size_t>(e) * bytes;
  s.nbytes = bytes;
  return s;
}

void find_llama_attention(const ModelSource& src, const ModelConfig& cfg, int64_t l, DecoderLayerTensors& t) {
  const int64_t H = cfg.hidden_size, hd = cfg.head_dim, nh = cfg.num_heads, nkv = cfg.num_kv_heads;
  const std::string p = fmt::format("model.layers.{}.", l);
  t.input_norm = &src.get(p + "input_layernorm.weight", {H});
  t.pre_ffn_norm = &src.get(p + "post_attention_layernorm.weight", {H});
  if (cfg.layers[l].linear_attention) {
    t.linear = std::make_shared<GatedDeltaTensors>(find_gated_delta_tensors(src, cfg, l));
  } else if (cfg.mla.enabled()) {
    t.mla = std::make_shared<MlaLayerTensors>(find_mla_tensors(src, cfg, l));
  } else {
    t.q = src.get(p + "self_attn.q_proj.weight", {nh * hd, H});
    t.k = src.get(p + "self_attn.k_proj.weight", {nkv * hd, H});
    t.v = src.get(p + "self_attn.v_proj.weight", {nkv * hd, H});
    t.o = src.get(p + "self_attn.o_proj.weight", {H, nh * hd});
    if (cfg.attn_output_gate) t.attn_gate = &src.get(p + "self_attn.q_gate_proj.weight", {nh * hd, H});
    if (cfg.qkv_bias) {
      t.q_bias = &src.get(p + "self_attn.q_proj.bias", {nh * hd});
      t.k_bias = &src.get(p + "self_attn.k_proj.bias", {nkv * hd});
      t.v_bias = &src.get(p + "self_attn.v_proj.bias", {nkv * hd});
    }
    if (src.find(p + "self_attn.o_proj.bias")) t.o_bias = &src.get(p + "self_attn.o_proj.bias", {H});
    if (cfg.qk_norm) {
      t.q_norm = &src.get(p + "self_attn.q_norm.weight", {hd});
      t.k_norm = &src.get(p + "self_attn.k_norm.weight", {hd});
    }
  }
}

DecoderLayerTensors find_gemma_tensors(const ModelSource& src, const ModelConfig& cfg, int64_t l) {
  const int64_t H = cfg.hidden_size, I = cfg.intermediate_size, hd = cfg.layer_head_dim(l);
  const int64_t qw = cfg.num_heads * hd, kvw = cfg.num_kv_heads * hd;
  const std::string p = fmt::format("model.layers.{}.", l);
  DecoderLayerTensors t;
  t.input_norm = &src.get(p + "input_layernorm.weight", {H});
  t.post_attn_norm = &src.get(p + "post_attention_layernorm.weight", {H});
  t.pre_ffn_norm = &src.get(p + "pre_feedforward_layernorm.weight", {H});
  t.post_ffn_norm = &src.get(p + "post_feedforward_layernorm.weight", {H});
  t.q = src.get(p + "self_attn.q_proj.weight", {qw, H});
  t.k = src.get(p + "self_attn.k_proj.weight", {kvw, H});
  t.v = src.get(p + "self_attn.v_proj.weight", {kvw, H});
  t.o = src.get(p + "self_attn.o_proj.weight", {H, qw});
  if (cfg.qk_norm) {
    t.q_norm = &src.get(p + "self_attn.q_norm.weight", {hd});
    t.k_norm = &src.get(p + "self_attn.k_norm.weight", {hd});
  }
  t.gate = src.get(p + "mlp.gate_proj.weight", {I, H});
  t.up = src.get(p + "mlp.up_proj.weight", {I, H});
  t.down = src.get(p + "mlp.down_proj.weight", {H, I});
  return t;
}

DecoderLayerTensors find_llama_tensors(const ModelSource& src, const ModelConfig& cfg, int64_t l) {
  const int64_t H = cfg.hidden_size;
  const std::string p = fmt::format("model.layers.{}.", l);
  DecoderLayerTensors t;
  find_llama_attention(src, cfg, l, t);
  if (cfg.layers[l].moe) {
    const int64_t E = cfg.moe.num_experts, I = cfg.moe.expert_intermediate;
    t.router = &src.get(p + "mlp.gate.weight", {E, H});
    // One tensor per expert (HF checkpoints), or all experts in one 3-D tensor each (GGUF).
    const bool fused = src.find(p + "mlp.experts.gate_proj.weight") != nullptr;
    for (int64_t e = 0; e < E; ++e) {
      if (fused) {
        t.experts.push_back({expert_slice(src.get(p + "mlp.experts.gate_proj.weight", {E, I, H}), e),
                             expert_slice(src.get(p + "mlp.experts.up_proj.weight", {E, I, H}), e),
                             expert_slice(src.get(p + "mlp.experts.down_proj.weight", {E, H, I}), e)});
        continue;
      }
      const std::string x = fmt::format("{}mlp.experts.{}.", p, e);
      t.experts.push_back({src.get(x + "gate_proj.weight", {I, H}), src.get(x + "up_proj.weight", {I, H}),
                           src.get(x + "down_proj.weight", {H, I})});
    }
    if (cfg.moe.routing == MoeRouting::SigmoidGroupTopK && src.find(p + "mlp.gate.e_score_correction_bias"))
      t.selection_bias = &src.get(p + "mlp.gate.e_score_correction_bias", {E});
    if (const int64_t S = cfg.moe.shared_intermediate; S > 0) {
      // DeepSeek and GLM name it shared_experts; Qwen3-Next and Qwen3.5 shared_expert, with a gate.
      const bool qwen = src.find(p + "mlp.shared_expert.gate_proj.weight") != nullptr;
      const std::string x = p + (qwen ? "mlp.shared_expert." : "mlp.shared_experts.");
      if (cfg.moe.shared_expert_gate) t.shared_gate = &src.get(p + "mlp.shared_expert_gate.weight", {1, H});
      t.shared = {src.get(x + "gate_proj.weight", {S, H}), src.get(x + "up_proj.weight", {S, H}),
                  src.get(x + "down_proj.weight", {H, S})};
    }
  } else {
    const int64_t I = cfg.intermediate_size;
    t.gate = src.get(p + "mlp.gate_proj.weight", {I, H});
    t.up = src.get(p + "mlp.up_proj.weight", {I, H});
    t.down = src.get(p + "mlp.down_proj.weight", {H, I});
  }
  return t;
}

namespace {

class DecoderModel final : public Model {
 public:
  DecoderModel(const ModelSource& src, Backend& be, const DecoderTensorFinder& find);
  const ModelConfig& config() const override { return cfg_; }
  Backend& backend() const override { return be_; }
  Tensor forward(const StepInput& step, KvCache& kv) override { return run(step, kv, true); }
  Tensor hidden_states(const StepInput& step, KvCache& kv) override { return run(step, kv, false); }

 private:
  Tensor run(const StepInput& step, KvCache& kv, bool with_logits);
  // Every sequence of the step has its own recurrent-state slot, holding the state just before its
  // first token (or the sequence starts at position 0); throws naming the sequence otherwise.
  void check_state_slots(const StepInput& step, const KvCache& kv) const;
  Tensor compute(const StepView& step, KvCache& kv, bool with_logits);

  struct Layer {
    DeviceVector input_norm, post_attn_norm, pre_ffn_norm, post_ffn_norm;  // empty: none
    AttentionWeights attn;
    AttentionParams shape;
    const RopeTable* rope = nullptr;
    const Weight* gate = nullptr;  // dense MLP
    const Weight* up = nullptr;
    const Weight* down = nullptr;
    std::optional<MlaWeights> mla;   // latent attention instead of attn
    std::unique_ptr<GatedDeltaWeights> linear;  // linear attention instead of attn (its params point into it)
    int64_t kv_layer = -1;           // this layer's index in the KV cache (attention layers only)
    const Weight* shared_gate = nullptr;  // MoE: the shared expert's gate [1, hidden] (null: none)
    DeviceVector sinks;  // [num_heads] (empty: none; shape.sinks points here)
    const Weight* router = nullptr;  // MoE
    DeviceVector router_bias;        // [num_experts] (empty: none)
    std::vector<DeviceVector> expert_biases;  // gate, up, down of each expert (the MoeExperts point here)
    std::vector<MoeExpert> experts;
    std::vector<float> selection_bias;  // [num_experts] on the host, where routing runs (empty: none)
    MoeExpert shared;                   // the shared expert (null weights: none)
    // Gemma 4
    float layer_scalar = 1.0f;               // the residual stream's scale after the layer
    const Weight* ple_gate = nullptr;        // PLE: per_layer_input_gate [P, hidden] (null: none)
    const Weight* ple_projection = nullptr;  // per_layer_projection [hidden, P]
    DeviceVector ple_norm;                   // post_per_layer_input_norm [hidden]
    // MoE beside the dense MLP: the branches' norms, the router's input norm weight (router.scale *
    // hidden^-0.5) and each expert's weight scale (on the host, where routing runs)
    DeviceVector post_dense_norm, pre_experts_norm, post_experts_norm, router_norm;
    std::vector<float> expert_scale;
  };

  // A 1-D tensor as float32 on the backend (a norm's weight + 1 for (1 + w) norms).
  DeviceVector vec(const TensorView* t, bool norm = false) const;

  ModelConfig cfg_;
  Backend& be_;
  GluKind act_;
  std::vector<WeightPtr> weights_;  // every linear, in the order a decode step reads them
  WeightPtr embed_table_;           // model.embed_tokens.weight [vocab, hidden], unless tied
  const Weight* embed_ = nullptr;   // the table embedding reads (lm_head itself when tied)
  const Weight* lm_head_ = nullptr; // lm_head.weight [vocab, hidden] (or embed_tokens when tied)
  std::vector<Layer> layers_;
  DeviceVector final_norm_;         // model.norm.weight [hidden]
  std::vector<std::unique_ptr<RopeTable>> ropes_;  // one per distinct RoPE schedule
  Workspace ws_;
  MlaShape mla_;                    // latent attention's sizes (when the config has MLA)
  std::vector<std::shared_ptr<MlaLayerTensors>> mla_tensors_;  // their rearranged weights' bytes
  int64_t widest_ffn_ = 0;          // the widest dense MLP (scratch)
  int64_t widest_q_ = 0, widest_kv_ = 0;  // the widest layer's q and k/v rows (scratch)
  PerLayerInputWeights ple_;        // per-layer embeddings (ple_.table null: none)
  bool recurrent_ = false;          // some layer is linear attention: steps need state slots
  std::mutex mu_;                   // one pass at a time (the engine's thread, and the server's embeddings)
};

DeviceVector DecoderModel::vec(const TensorView* t, bool norm) const {
  if (t == nullptr) return {};
  std::vector<float> v = dequantize(*t);
  if (norm && cfg_.norm_plus_one)
    for (float& x : v) x += 1.0f;
  return be_.load_vector(v);
}

DecoderModel::DecoderModel(const ModelSource& src, Backend& be, const DecoderTensorFinder& find)
    : cfg_(src.config()), be_(be), ws_(be) {
  const int64_t H = cfg_.hidden_size, V = cfg_.vocab_size;
  const int64_t hd = cfg_.head_dim, nh = cfg_.num_heads, nkv = cfg_.num_kv_heads;
  if (H <= 0 || V <= 0 || hd <= 0 || nh <= 0 || nkv <= 0 || cfg_.num_layers <= 0)
    fail("{}: config has a non-positive size (hidden {}, vocab {}, head_dim {}, heads {}/{}, layers {})", src.path(), H,
         V, hd, nh, nkv, cfg_.num_layers);
  if (nh % nkv != 0) fail("{}: {} attention heads are not a multiple of {} kv heads", src.path(), nh, nkv);
  if (static_cast<int64_t>(cfg_.layers.size()) != cfg_.num_layers)
    fail("{}: config describes {} layers of {}", src.path(), cfg_.layers.size(), cfg_.num_layers);
  act_ = cfg_.activation == Activation::GeluTanh      ? GluKind::GeluTanh
         : cfg_.activation == Activation::SiluClamped ? GluKind::SiluClamped
                                                      : GluKind::Silu;
  if (cfg_.mla.enabled()) {
    cfg_.mla.validate(src.path());
    mla_ = mla_shape(cfg_);
  }
  recurrent_ = cfg_.recurrent_state_floats() > 0;
  if (recurrent_) {
    cfg_.gated_delta.validate(src.path());
    if (!be.supports_gated_delta())
      fail("{}: {} has gated-delta linear-attention layers, which the {} backend does not run yet; use --backend cpu",
           src.path(), cfg_.arch_name, be.name());
  }

  if (cfg_.mixed_head_dims() && (cfg_.mla.enabled() || recurrent_))
    fail("{}: layers of different head widths are supported with softmax attention only", src.path());
  for (int64_t l = 0; l < cfg_.num_layers; ++l) {
    widest_q_ = std::max(widest_q_, nh * cfg_.layer_head_dim(l));
    widest_kv_ = std::max(widest_kv_, nkv * cfg_.layer_head_dim(l));
  }
  const int64_t P = cfg_.per_layer_input_size;
  if (P < 0) fail("{}: per-layer inputs of {} values", src.path(), P);
  if (cfg_.moe.beside_dense && cfg_.intermediate_size <= 0)
    fail("{}: experts beside the dense MLP need 'intermediate_size'", src.path());

  const TensorView& embed = src.get("model.embed_tokens.weight", {V, H});
  final_norm_ = vec(&src.get("model.norm.weight", {H}), true);
  // Tied embeddings (or a file without an output matrix, as llama.cpp reads it) reuse embed_tokens.
  const bool tied = cfg_.tie_word_embeddings || src.find("lm_head.weight") == nullptr;
  const TensorView& lm_head = tied ? embed : src.get("lm_head.weight", {V, H});

  // Every layer's tensors, then the linears in the order a decode step reads them (a backend may
  // lay them out so); each layer's handles are picked back out of that list.
  std::vector<DecoderLayerTensors> tensors;
  for (int64_t l = 0; l < cfg_.num_layers; ++l) tensors.push_back(find(src, cfg_, l));
  std::vector<const TensorView*> linears;  // pointers into `tensors`, complete by now
  PerLayerInputTensors ple;
  if (P > 0) {  // read first: the projection of the embeddings
    ple = find_per_layer_input_tensors(src, cfg_);
    linears.push_back(&ple.projection);
  }
  for (int64_t l = 0; l < cfg_.num_layers; ++l) {
    DecoderLayerTensors& t = tensors[l];
    const bool dense = !cfg_.layers[l].moe || cfg_.moe.beside_dense;
    if ((P > 0) != (t.per_layer_input != nullptr))
      fail("{}: layer {} has {} per-layer input tensors for per-layer inputs of {} values", src.path(), l,
           t.per_layer_input ? "its" : "no", P);
    if (cfg_.layers[l].moe && cfg_.moe.beside_dense &&
        (!t.post_dense_norm || !t.pre_experts_norm || !t.post_experts_norm || !t.router_scale || !t.expert_scale))
      fail("{}: layer {} runs experts beside its dense MLP without their norms and router scales", src.path(), l);
    if (t.linear) {
      for (TensorView* w : {&t.linear->qkv, &t.linear->z, &t.linear->b, &t.linear->a, &t.linear->out})
        linears.push_back(w);
    } else if (t.mla) {
      for (TensorView* w : t.mla->linears()) linears.push_back(w);
      mla_tensors_.push_back(t.mla);
    } else {
      for (TensorView* w : {&t.q, &t.k, &t.v, &t.o}) linears.push_back(w);
      if (t.attn_gate) linears.push_back(t.attn_gate);
    }
    if (cfg_.layers[l].moe) {
      if (t.router == nullptr || static_cast<int64_t>(t.experts.size()) != cfg_.moe.num_experts)
        fail("{}: layer {} is a mixture of experts without its router and {} experts", src.path(), l,
             cfg_.moe.num_experts);
      linears.push_back(t.router);
      for (auto& e : t.experts)
        for (TensorView& w : e) linears.push_back(&w);
      if (cfg_.moe.shared_intermediate > 0) {
        for (TensorView& w : t.shared) linears.push_back(&w);
        if (t.shared_gate) linears.push_back(t.shared_gate);
        widest_ffn_ = std::max(widest_ffn_, cfg_.moe.shared_intermediate);
      }
    }
    if (dense) {
      for (TensorView* w : {&t.gate, &t.up, &t.down}) linears.push_back(w);
      widest_ffn_ = std::max(widest_ffn_, t.gate.rows());
    }
    if (t.per_layer_input) {
      linears.push_back(&t.per_layer_input->gate);
      linears.push_back(&t.per_layer_input->projection);
    }
  }
  widest_ffn_ = std::max(widest_ffn_, P);  // PLE's gate and input share the MLP's scratch
  linears.push_back(&lm_head);
  weights_ = be.load_linears(linears);
  lm_head_ = weights_.back().get();
  if (tied) {
    embed_ = lm_head_;
  } else {
    embed_table_ = be.load_table(embed);
    embed_ = embed_table_.get();
  }

  size_t next = 0;
  if (P > 0) {
    ple_.projection = weights_[next++].get();
    ple_.table = be.load_table(*ple.table);
    ple_.norm = vec(ple.norm, true);
  }
  int64_t kv_layers = 0, state_offset = 0;
  layers_.reserve(static_cast<size_t>(cfg_.num_layers));  // in place: a layer's params point into it
  for (int64_t l = 0; l < cfg_.num_layers; ++l) {
    const DecoderLayerTensors& t = tensors[l];
    const LayerConfig& lc = cfg_.layers[l];
    const int64_t lhd = cfg_.layer_head_dim(l);
    Layer& L = layers_.emplace_back();
    L.input_norm = vec(t.input_norm, true);
    L.post_attn_norm = vec(t.post_attn_norm, true);
    L.pre_ffn_norm = vec(t.pre_ffn_norm, true);
    L.post_ffn_norm = vec(t.post_ffn_norm, true);
    if (t.linear) {
      L.linear = std::make_unique<GatedDeltaWeights>();
      for (const Weight** w : {&L.linear->qkv, &L.linear->z, &L.linear->b, &L.linear->a, &L.linear->out})
        *w = weights_[next++].get();
      load_gated_delta_vectors(*t.linear, cfg_.gated_delta, state_offset, be, *L.linear);
      state_offset += cfg_.gated_delta.state_floats();
    } else if (t.mla) {
      L.kv_layer = kv_layers++;
      L.mla = mla_weights(*t.mla, be, weights_, next);
    } else {
      L.kv_layer = kv_layers++;
      L.attn.q = weights_[next++].get();
      L.attn.k = weights_[next++].get();
      L.attn.v = weights_[next++].get();
      L.attn.o = weights_[next++].get();
      if (t.attn_gate) L.attn.gate = weights_[next++].get();
      L.attn.q_bias = vec(t.q_bias);
      L.attn.k_bias = vec(t.k_bias);
      L.attn.v_bias = vec(t.v_bias);
      L.attn.o_bias = vec(t.o_bias);
      L.attn.q_norm = vec(t.q_norm, true);
      L.attn.k_norm = vec(t.k_norm, true);
      if (cfg_.v_norm) L.attn.v_norm = be.load_vector(std::vector<float>(static_cast<size_t>(lhd), 1.0f));
      L.sinks = vec(t.sinks);
    }
    if (lc.moe) {
      L.router = weights_[next++].get();
      L.router_bias = vec(t.router_bias);
      L.expert_biases.reserve(3 * t.expert_biases.size());
      for (size_t e = 0; e < t.experts.size(); ++e) {
        MoeExpert x;
        x.gate = weights_[next++].get();
        x.up = weights_[next++].get();
        x.down = weights_[next++].get();
        if (!t.expert_biases.empty()) {
          for (const TensorView& b : t.expert_biases[e]) L.expert_biases.push_back(vec(&b));
          x.gate_bias = &L.expert_biases[3 * e];
          x.up_bias = &L.expert_biases[3 * e + 1];
          x.down_bias = &L.expert_biases[3 * e + 2];
        }
        L.experts.push_back(x);
      }
      if (cfg_.moe.shared_intermediate > 0) {
        L.shared.gate = weights_[next++].get();
        L.shared.up = weights_[next++].get();
        L.shared.down = weights_[next++].get();
        if (t.shared_gate) L.shared_gate = weights_[next++].get();
      }
      if (t.selection_bias) L.selection_bias = dequantize(*t.selection_bias);
      if (cfg_.moe.beside_dense) {
        L.post_dense_norm = vec(t.post_dense_norm, true);
        L.pre_experts_norm = vec(t.pre_experts_norm, true);
        L.post_experts_norm = vec(t.post_experts_norm, true);
        std::vector<float> rs = dequantize(*t.router_scale);
        const float root = static_cast<float>(1.0 / std::sqrt(static_cast<double>(H)));
        for (float& v : rs) v *= root;
        L.router_norm = be.load_vector(rs);
        L.expert_scale = dequantize(*t.expert_scale);
      }
    }
    if (!lc.moe || cfg_.moe.beside_dense) {
      L.gate = weights_[next++].get();
      L.up = weights_[next++].get();
      L.down = weights_[next++].get();
    }
    if (t.per_layer_input) {
      L.ple_gate = weights_[next++].get();
      L.ple_projection = weights_[next++].get();
      L.ple_norm = vec(t.per_layer_input->norm, true);
    }
    if (t.layer_scalar) L.layer_scalar = dequantize(*t.layer_scalar).at(0);
    L.shape.num_heads = nh;
    L.shape.num_kv_heads = nkv;
    L.shape.head_dim = lhd;
    L.shape.window = lc.window;
    L.shape.scale = cfg_.attention_scale();
    L.shape.softcap = cfg_.attn_softcap;
    L.shape.sinks = L.sinks.empty() ? nullptr : &L.sinks;
    // Layers with the same schedule share one table (Gemma 3: one for sliding, one for full layers).
    const RopeFreqs f = make_rope_freqs(lc.rope, lhd);
    for (const auto& r : ropes_)
      if (r->freqs.inv_freq == f.inv_freq && r->freqs.rotary_dim == f.rotary_dim &&
          r->freqs.adjacent_pairs == f.adjacent_pairs && r->freqs.attention_factor == f.attention_factor)
        L.rope = r.get();
    if (L.rope == nullptr) {
      ropes_.push_back(std::make_unique<RopeTable>(be.load_rope(f)));
      L.rope = ropes_.back().get();
    }
  }
}

Tensor DecoderModel::run(const StepInput& step, KvCache& kv, bool with_logits) {
  std::lock_guard<std::mutex> lock(mu_);
  const KvShape want = kv_shape();
  if (kv.num_layers() != want.num_layers || kv.num_kv_heads() != want.num_kv_heads || kv.head_dim() != want.head_dim ||
      kv.shape().v_in_k != want.v_in_k || kv.shape().layer_head_dims != want.layer_head_dims)
    fail("forward: the KV cache has {} layers of {} kv heads x {} (V {}), the model needs {} of {} x {} (V {})",
         kv.num_layers(), kv.num_kv_heads(), kv.head_dim(), kv.v_head_dim(), want.num_layers, want.num_kv_heads,
         want.head_dim, want.v_head_dim());
  if (&kv.backend() != &be_) fail("forward: the KV cache lives on another backend than the model");
  if (step.block_size() != kv.block_size())
    fail("forward: the step addresses blocks of {} slots, the KV cache has {}", step.block_size(), kv.block_size());
  step.validate(kv.num_blocks(), cfg_.vocab_size);
  if (recurrent_) check_state_slots(step, kv);

  const int64_t T = step.num_tokens(), R = with_logits ? step.num_logit_rows() : 0;
  const int64_t H = cfg_.hidden_size, V = cfg_.vocab_size, E = cfg_.moe.num_experts;
  const int64_t qw = widest_q_, kvw = widest_kv_;
  // x, n, y, shared [T, H]; q, ctx [T, qw]; k, v [T, kvw]; gate, up [T, widest MLP]; router [T, E];
  // per-layer inputs and their ids [T, layers * P]; final rows [R, H], logits [R, V] (each rounded
  // up to 16 floats by the workspace).
  // (latent attention: its own buffers, model/mla.h)
  const int64_t pad = 16;
  const int64_t attn = cfg_.mla.enabled() ? mla_scratch_floats_per_token(mla_) : 2 * qw + 2 * kvw;
  const int64_t attn_buffers = cfg_.mla.enabled() ? kMlaScratchBuffers : 4;
  // linear attention: its buffers (model/gated_delta.h), the attention output gate [T, qw], the
  // shared expert's gate [T, 1]
  const int64_t lin = recurrent_ ? gated_delta_scratch_floats_per_token(cfg_.gated_delta) : 0;
  const int64_t extra = lin + (cfg_.attn_output_gate ? qw : 0) + 1 + 2 * cfg_.num_layers * cfg_.per_layer_input_size;
  ws_.reserve(T * (4 * H + attn + 2 * widest_ffn_ + E + extra) + R * (H + V) +
              (13 + attn_buffers + kGatedDeltaScratchBuffers) * pad);
  // A forward pass enqueues the same ops for every step with the same token, sequence and logit-row
  // counts: replayable (hidden states are a rarer shape; not worth recording).
  Tensor out = be_.run_step(step, kv, /*replayable=*/with_logits && !recurrent_,
                            [&](const StepView& view) { return compute(view, kv, with_logits); });
  // Each sequence's recurrent state now covers its tokens up to the last of this step.
  if (recurrent_)
    for (int64_t s = 0; s < step.num_sequences(); ++s)
      kv.set_state_length(step.state_slots[s], step.positions[step.seq_begin[s + 1] - 1] + 1);
  return out;
}

void DecoderModel::check_state_slots(const StepInput& step, const KvCache& kv) const {
  if (kv.state_floats() != cfg_.recurrent_state_floats())
    fail("forward: the KV cache keeps {} recurrent-state values per sequence, the model needs {}", kv.state_floats(),
         cfg_.recurrent_state_floats());
  std::vector<int32_t> seen;
  for (int64_t s = 0; s < step.num_sequences(); ++s) {
    const int32_t slot = step.state_slots[s];
    if (slot < 0 || slot >= kv.state_slots())
      fail("forward: sequence {} of the step has recurrent-state slot {}, outside the cache's {} slots (a hybrid "
           "model needs one per sequence)",
           s, slot, kv.state_slots());
    if (std::find(seen.begin(), seen.end(), slot) != seen.end())
      fail("forward: two sequences of the step share recurrent-state slot {}", slot);
    seen.push_back(slot);
    const int64_t start = step.positions[step.seq_begin[s]];
    if (start != 0 && kv.state_length(slot) != start)
      fail("forward: sequence {} continues at position {} but its recurrent state (slot {}) covers {} tokens", s,
           start, slot, kv.state_length(slot));
  }
}

Tensor DecoderModel::compute(const StepView& step, KvCache& kv, bool with_logits) {
  const StepInput& in = *step.host;
  const int64_t T = in.num_tokens(), H = cfg_.hidden_size, E = cfg_.moe.num_experts;
  const int64_t qw = widest_q_, kvw = widest_kv_, P = cfg_.per_layer_input_size;
  const float eps = cfg_.rms_norm_eps;
  ws_.reset();
  Tensor x = ws_.take(T, H);  // residual stream [T, hidden]
  Tensor n = ws_.take(T, H);  // normalised input of a sub-block [T, hidden]
  Tensor y = ws_.take(T, H);  // a sub-block's output [T, hidden]
  AttentionScratch a;
  MlaScratch mla;
  if (cfg_.mla.enabled()) {
    mla = take_mla_scratch(ws_, mla_, T);
  } else {
    a = {ws_.take(T, qw), ws_.take(T, kvw), ws_.take(T, kvw), ws_.take(T, qw)};
  }
  Tensor gate = ws_.take(T, widest_ffn_), up = ws_.take(T, widest_ffn_);  // [T, intermediate]
  Tensor router = ws_.take(T, E);                                          // [T, experts]
  Tensor shared = ws_.take(T, H);  // the shared expert's output [T, hidden]
  Tensor shared_gate = ws_.take(T, 1);  // its gate's logit [T, 1]
  if (cfg_.attn_output_gate) a.gate = ws_.take(T, qw);
  GatedDeltaScratch lin;
  if (recurrent_) lin = take_gated_delta_scratch(ws_, cfg_.gated_delta, T);

  Tensor ple_inputs, ple_ids;  // every layer's per-layer inputs [T, layers * P], and scratch
  if (P > 0) ple_inputs = ws_.take(T, cfg_.num_layers * P), ple_ids = ws_.take(T, cfg_.num_layers * P);

  be_.embedding(*embed_, step, x);
  if (cfg_.embed_scale != 1.0f) be_.scale(x, cfg_.embed_scale);
  if (P > 0) per_layer_inputs(be_, ple_, cfg_, step, x, ple_ids, ple_inputs);
  be_.rms_norm(x, layers_[0].input_norm, eps, n);
  for (int64_t l = 0; l < cfg_.num_layers; ++l) {
    const Layer& L = layers_[l];
    if (L.linear) {
      gated_delta_block(be_, *L.linear, step, kv, n, lin, eps, y);
    } else if (L.mla) {
      mla_attention_block(be_, *L.mla, mla_, *L.rope, step, kv, L.kv_layer, n, mla, y);
    } else {
      // This layer's widths within the widest layer's buffers.
      const int64_t lq = L.shape.num_heads * L.shape.head_dim, lkv = L.shape.num_kv_heads * L.shape.head_dim;
      AttentionScratch la{{a.q.data, T, lq}, {a.k.data, T, lkv}, {a.v.data, T, lkv}, {a.ctx.data, T, lq}, a.gate};
      attention_block(be_, L.attn, L.shape, eps, *L.rope, step, kv, L.kv_layer, n, la, y);
    }
    if (!L.post_attn_norm.empty()) be_.rms_norm(y, L.post_attn_norm, eps, y);
    be_.add_rms_norm(x, y, L.pre_ffn_norm, eps, n);  // x += attention; n = the feed-forward's input

    if (!L.experts.empty() && !L.router_norm.empty()) {  // Gemma 4: experts beside the dense MLP
      const int64_t I = L.gate->rows;
      mlp_glu(be_, act_, *L.gate, *L.up, *L.down, n, Tensor{gate.data, T, I}, Tensor{up.data, T, I}, y);
      be_.rms_norm(y, L.post_dense_norm, eps, y);
      be_.rms_norm(x, L.router_norm, eps, shared);  // the router reads the residual stream
      be_.linear(*L.router, shared, router);
      MoeParams mp;
      mp.routing = {cfg_.moe.routing, cfg_.moe.top_k, cfg_.moe.norm_topk_prob, cfg_.moe.routed_scaling,
                    cfg_.moe.n_group, cfg_.moe.topk_group, {}, L.expert_scale};
      mp.activation = act_;
      be_.rms_norm(x, L.pre_experts_norm, eps, n);
      be_.moe(n, router, L.experts, mp, shared);
      be_.rms_norm(shared, L.post_experts_norm, eps, shared);
      be_.add(y, shared);
    } else if (!L.experts.empty()) {
      be_.linear(*L.router, n, router);
      if (!L.router_bias.empty()) be_.add_bias(router, L.router_bias);
      const MoeConfig& mc = cfg_.moe;
      MoeParams mp;
      mp.routing = {mc.routing, mc.top_k, mc.norm_topk_prob, mc.routed_scaling, mc.n_group, mc.topk_group,
                    L.selection_bias};
      mp.activation = act_;
      be_.moe(n, router, L.experts, mp, y);
      if (L.shared.gate != nullptr) {  // y = routed + shared(n)
        const int64_t S = L.shared.gate->rows;
        mlp_glu(be_, act_, *L.shared.gate, *L.shared.up, *L.shared.down, n, Tensor{gate.data, T, S},
                Tensor{up.data, T, S}, shared);
        if (L.shared_gate != nullptr) {  // Qwen3-Next: shared * sigmoid(shared_expert_gate . n)
          be_.linear(*L.shared_gate, n, shared_gate);
          be_.sigmoid_mul(shared, shared_gate);
        }
        be_.add(y, shared);
      }
    } else {
      const int64_t I = L.gate->rows;
      mlp_glu(be_, act_, *L.gate, *L.up, *L.down, n, Tensor{gate.data, T, I}, Tensor{up.data, T, I}, y);
    }
    if (!L.post_ffn_norm.empty()) be_.rms_norm(y, L.post_ffn_norm, eps, y);
    if (L.ple_gate != nullptr || L.layer_scalar != 1.0f) {  // Gemma 4: more after the feed-forward
      be_.add(x, y);
      if (L.ple_gate != nullptr)
        per_layer_input_block(be_, *L.ple_gate, *L.ple_projection, L.ple_norm, eps, ple_inputs, l, x,
                              Tensor{gate.data, T, P}, Tensor{up.data, T, P}, y);
      if (L.layer_scalar != 1.0f) be_.scale(x, L.layer_scalar);
      if (l + 1 < cfg_.num_layers) be_.rms_norm(x, layers_[l + 1].input_norm, eps, n);
    } else if (l + 1 < cfg_.num_layers) {
      be_.add_rms_norm(x, y, layers_[l + 1].input_norm, eps, n);  // and the next layer's input
    } else {
      be_.add(x, y);
    }
  }

  if (!with_logits) {  // hidden states: every row, final-normed [T, hidden]
    be_.rms_norm(x, final_norm_, eps, n);
    return n;
  }
  // Final norm and lm_head only for the rows that need logits: [R, hidden] -> [R, vocab].
  const int64_t R = in.num_logit_rows();
  Tensor rows = ws_.take(R, H), logits = ws_.take(R, cfg_.vocab_size);
  if (R == 0) return logits;
  be_.gather_logit_rows(step, x, rows);
  be_.rms_norm(rows, final_norm_, eps, rows);
  be_.linear(*lm_head_, rows, logits);
  if (cfg_.final_softcap > 0) be_.softcap(logits, cfg_.final_softcap);
  return logits;
}

}  // namespace

std::unique_ptr<Model> make_decoder(const ModelSource& source, Backend& backend, const DecoderTensorFinder& find) {
  return std::make_unique<DecoderModel>(source, backend, find);
}

}  // namespace ax
