#pragma once
// The decoder that most architectures are: token embeddings, then per layer an attention block
// and a feed-forward block (a gated MLP or a mixture of experts), each around a residual, then a
// final norm and lm_head. What differs between families is options of these blocks (ModelConfig)
// and where the weights are; an architecture file says where (DecoderTensors) and reuses this
// forward:
//
//   x = embed(tokens) * embed_scale
//   for each layer l:
//     y = attention(input_norm(x))                  q/k norms, biases, RoPE, window, soft-cap, sinks
//     x += post_attention_norm?(y)                  (Gemma: a norm on the block's output)
//     y = ffn(pre_ffn_norm(x))                      gated MLP or MoE (+ shared expert; router and
//                                                   expert biases: gpt-oss)
//     x += post_ffn_norm?(y)
//     x += per-layer input?(x)                      Gemma 4's PLE (model/per_layer_input.h)
//     x *= layer_scalar?                            Gemma 4
//   logits = softcap?(lm_head(norm(x)))             only for the requested rows
//
// Gemma 4's MoE layers run the experts beside the dense MLP (MoeConfig::beside_dense), with x the
// residual stream after attention:
//     y = post_ffn_norm(post_dense_norm(mlp(pre_ffn_norm(x)))
//                       + post_experts_norm(experts(pre_experts_norm(x), router(rms_norm(x) * router_scale))))
#include <array>
#include <functional>
#include <memory>
#include <vector>

#include "format/tensor.h"
#include "model/gated_delta.h"
#include "model/mla.h"
#include "model/model.h"
#include "model/per_layer_input.h"

namespace ax {

// One layer's weights, as views into the model file (Hugging Face shapes: [out, in]). Fused
// checkpoint tensors (Phi-3's qkv_proj and gate_up_proj) are split into row ranges here.
struct DecoderLayerTensors {
  const TensorView* input_norm = nullptr;      // [hidden]
  const TensorView* post_attn_norm = nullptr;  // [hidden], Gemma: on the attention output (else null)
  const TensorView* pre_ffn_norm = nullptr;    // [hidden], the feed-forward block's input norm
  const TensorView* post_ffn_norm = nullptr;   // [hidden], Gemma: on the feed-forward output (else null)
  TensorView q, k, v, o;                       // [q width, hidden], [kv width, hidden] x2, [hidden, q width]
  const TensorView* attn_gate = nullptr;       // self_attn.q_gate_proj [q width, hidden]: output gate, or null
  const TensorView* q_bias = nullptr;          // biases: null when absent
  const TensorView* k_bias = nullptr;
  const TensorView* v_bias = nullptr;
  const TensorView* o_bias = nullptr;
  const TensorView* q_norm = nullptr;          // [head_dim] per-head norms: null when absent
  const TensorView* k_norm = nullptr;
  const TensorView* sinks = nullptr;           // [num_heads] attention sink logits (gpt-oss): null when absent
  TensorView gate, up, down;                   // dense MLP: [I, hidden] x2, [hidden, I]
  const TensorView* router = nullptr;          // MoE: [num_experts, hidden]
  const TensorView* router_bias = nullptr;     // MoE: [num_experts] added to the router logits (gpt-oss), or null
  const TensorView* selection_bias = nullptr;  // MoE: [num_experts], added to the scores for the choice only
  std::vector<std::array<TensorView, 3>> experts;  // MoE: gate, up, down of each expert
  // MoE: the biases of each expert's gate, up, down ([I], [I], [hidden]; gpt-oss); empty: none
  std::vector<std::array<TensorView, 3>> expert_biases;
  std::array<TensorView, 3> shared;            // MoE: the shared expert's gate, up, down (when the config has one)
  const TensorView* shared_gate = nullptr;     // MoE: mlp.shared_expert_gate [1, hidden] (MoeConfig::shared_expert_gate)
  std::shared_ptr<MlaLayerTensors> mla;        // latent attention (model/mla.h); then q, k, v, o are unused
  std::shared_ptr<GatedDeltaTensors> linear;   // gated-delta linear attention (model/gated_delta.h); the same
  // Gemma 4
  const TensorView* layer_scalar = nullptr;    // [1]: the residual stream is scaled by it after the layer
  std::shared_ptr<PerLayerInputLayerTensors> per_layer_input;  // PLE (ModelConfig::per_layer_input_size)
  // MoE beside the dense MLP (MoeConfig::beside_dense): the dense branch's output norm, the experts'
  // input and output norms [hidden], the router's input scale [hidden] and the experts' weight
  // scales [num_experts]
  const TensorView* post_dense_norm = nullptr;
  const TensorView* pre_experts_norm = nullptr;
  const TensorView* post_experts_norm = nullptr;
  const TensorView* router_scale = nullptr;
  const TensorView* expert_scale = nullptr;
};

// Finds layer l's tensors in the source, checking their shapes (ModelSource::get).
using DecoderTensorFinder = std::function<DecoderLayerTensors(const ModelSource& src, const ModelConfig& cfg, int64_t l)>;

// Rows [r0, r0 + n) of a 2-D tensor, as a tensor of its own (same bytes).
TensorView row_slice(const TensorView& t, int64_t r0, int64_t n);
// Expert e of a 3-D [experts, rows, cols] tensor, as a 2-D tensor of its own (same bytes); of a 2-D
// [experts, n] tensor (per-expert biases), as a 1-D tensor [n].
TensorView expert_slice(const TensorView& t, int64_t e);

// The decoder over `source` with the layer tensors `find` gives; the rest of the names are the
// common ones (model.embed_tokens.weight, model.norm.weight, lm_head.weight; PLE's where the config
// has per-layer inputs).
std::unique_ptr<Model> make_decoder(const ModelSource& source, Backend& backend, const DecoderTensorFinder& find);

// The usual names (Llama, Qwen, Mistral): input_layernorm, post_attention_layernorm as the
// feed-forward's input norm, self_attn.{q,k,v,o}_proj (+ biases and q/k norms where the config has
// them; latent attention's tensors where the config has MLA, find_mla_tensors; linear attention's
// on linear_attention layers, find_gated_delta_tensors; the output gate self_attn.q_gate_proj with
// attn_output_gate), mlp.{gate,up,down}_proj, or for MoE layers mlp.gate (router; its
// e_score_correction_bias for sigmoid routing), mlp.experts.{e}.{gate,up,down}_proj (or
// mlp.experts.{gate,up,down}_proj holding every expert: [experts, rows, cols], as GGUF files store
// them) and mlp.shared_experts.{gate,up,down}_proj (Qwen3-Next: mlp.shared_expert.* and its
// mlp.shared_expert_gate).
DecoderLayerTensors find_llama_tensors(const ModelSource& src, const ModelConfig& cfg, int64_t l);
// Gemma's names (Gemma 2, 3 and 4): input_layernorm, post_attention_layernorm on the attention's
// output, pre_feedforward_layernorm and post_feedforward_layernorm around the MLP,
// self_attn.{q,k,v,o}_proj of the layer's own head width (ModelConfig::layer_head_dim) and q/k norms
// where the config has them, mlp.{gate,up,down}_proj.
DecoderLayerTensors find_gemma_tensors(const ModelSource& src, const ModelConfig& cfg, int64_t l);
// Its attention part alone: input_layernorm, post_attention_layernorm (as pre_ffn_norm),
// self_attn.{q,k,v,o}_proj with the biases and q/k norms the config has, into t.
void find_llama_attention(const ModelSource& src, const ModelConfig& cfg, int64_t l, DecoderLayerTensors& t);

}  // namespace ax
