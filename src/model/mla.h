#pragma once
// Multi-head latent attention (DeepSeek-V2/V3, GLM-4.7-Flash) in the absorbed form llama.cpp and
// vLLM decode with, over a KV cache of one compressed row per token.
//
// Per token (hidden H, nh query heads of nope + rope query/key values and v value values, latent
// width c = kv_lora_rank):
//   q    = q_b(rms_norm(q_a(x)))  or  q_proj(x)     per head [q_nope | q_rope]
//   kv   = kv_a_proj_with_mqa(x)                    [c_kv (c) | k_rope (rope)], c_kv normed by
//                                                    kv_a_layernorm; k_rope is one for all heads
//   RoPE on q_rope and k_rope at the token's position
//   kv_b_proj [nh * (nope + v), c] takes c_kv to per head [k_nope | v]: W_uk(h) [nope, c], W_uv(h) [v, c]
// Since q_nope . k_nope = (W_uk(h)^T q_nope) . c_kv, head h's query becomes [W_uk(h)^T q_nope | q_rope]
// (c + rope values) and every head scores it against the same cached row [c_kv | k_rope] (one kv
// head); the values are the c_kv prefix of those rows, so a head's attention output is a latent
// vector that W_uv(h) takes to its v values:
//   out = o_proj(concat_h W_uv(h) . sum_j softmax_j(q_h . row_j * scale) c_kv_j)
// The cache keeps c + rope values per token and layer (DeepSeek-V3: 576) instead of K and V of
// every head (128 * (192 + 128) = 40960).
//
// The weights are arranged once at load so the backend's ordinary ops do this: q_b's (or q_proj's)
// rows split into all heads' nope rows and all heads' rope rows (two matrices, copied), kv_a's rows
// into c_kv's and k_rope's (views), and kv_b into per-head W_uk^T [c, nope] (transposed at load; a
// llama.cpp GGUF stores it so, attn_k_b) and W_uv [v, c] (views; attn_v_b).
#include <cstdint>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "backend/kv_cache.h"
#include "format/tensor.h"
#include "model/config.h"

namespace ax {

class ModelSource;

// One layer's MLA weights as tensors: views into the model file, or into `owned` bytes for the
// rearranged ones.
struct MlaLayerTensors {
  TensorView q_a;                        // self_attn.q_a_proj [q_lora, hidden] (when q_lora > 0)
  const TensorView* q_a_norm = nullptr;  // self_attn.q_a_layernorm [q_lora]
  TensorView q_nope, q_rope;             // [nh * nope, q_lora or hidden], [nh * rope, q_lora or hidden]
  TensorView kv_latent, kv_rope;         // kv_a_proj_with_mqa's rows: [c, hidden], [rope, hidden]
  const TensorView* kv_norm = nullptr;   // self_attn.kv_a_layernorm [c]
  std::vector<TensorView> k_absorb;      // per head W_uk(h)^T [c, nope]
  std::vector<TensorView> v_absorb;      // per head W_uv(h) [v, c]
  TensorView o;                          // self_attn.o_proj [hidden, nh * v]
  std::vector<std::shared_ptr<const std::vector<uint8_t>>> owned;  // bytes of the rearranged tensors

  // The linear weights in the order a decode step reads them (mla_weights takes the handles back in
  // this order).
  std::vector<TensorView*> linears();
};

// Layer l's tensors under Hugging Face names (model.layers.l.self_attn.*): q_a_proj, q_a_layernorm
// and q_b_proj (or q_proj), kv_a_proj_with_mqa, kv_a_layernorm, kv_b_proj (or llama.cpp's split
// k_b_proj [nh, c, nope] and v_b_proj [nh, v, c]), o_proj; shapes checked.
MlaLayerTensors find_mla_tensors(const ModelSource& src, const ModelConfig& cfg, int64_t layer);

// The sizes a layer runs with.
struct MlaShape {
  int64_t heads = 0, q_lora = 0, latent = 0, nope = 0, rope = 0, v = 0;
  float scale = 0.0f;     // score scale (1/sqrt(nope + rope), times YaRN's mscale^2 where configured)
  float norm_eps = 0.0f;  // the q_a / kv_a norms' epsilon
};
MlaShape mla_shape(const ModelConfig& c);

// The uploaded weights of one layer.
struct MlaWeights {
  const Weight* q_a = nullptr;  // null: q_nope and q_rope read the layer's input
  DeviceVector q_a_norm;
  const Weight* q_nope = nullptr;
  const Weight* q_rope = nullptr;
  const Weight* kv_latent = nullptr;
  const Weight* kv_rope = nullptr;
  DeviceVector kv_norm;
  std::vector<const Weight*> k_absorb, v_absorb;
  const Weight* o = nullptr;
};
// Takes t's handles from `weights` (loaded from t.linears(), in that order) from index `next` on,
// advancing it, and uploads the norms.
MlaWeights mla_weights(const MlaLayerTensors& t, Backend& be, const std::vector<WeightPtr>& weights, size_t& next);

// The per-step buffers, each [T, width]: q_a [q_lora], q_nope [nh * nope], q_rope [nh * rope],
// latent [c], k_rope [rope], q_latent [nh * c], q [nh * (c + rope)], k [c + rope],
// ctx_latent [nh * c], ctx [nh * v].
struct MlaScratch {
  Tensor q_a, q_nope, q_rope, latent, k_rope, q_latent, q, k, ctx_latent, ctx;
};
inline constexpr int64_t kMlaScratchBuffers = 10;
int64_t mla_scratch_floats_per_token(const MlaShape& s);
MlaScratch take_mla_scratch(Workspace& ws, const MlaShape& s, int64_t T);

// The attention sub-block for every token of the step: h [T, hidden] normalised input, out
// [T, hidden]. Writes each token's latent row into kv at (layer, its slot), then attends over the
// visible rows of its own sequence.
void mla_attention_block(Backend& be, const MlaWeights& w, const MlaShape& s, const RopeTable& rope,
                         const StepView& step, KvCache& kv, int64_t layer, const Tensor& h, const MlaScratch& x,
                         Tensor out);

}  // namespace ax
