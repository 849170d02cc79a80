#pragma once
// The gated-delta-net token mixer of hybrid models (Qwen3-Next, Qwen3.5): linear attention with a
// recurrent state per sequence instead of a K/V cache (the layer's state lives in the KV cache's
// recurrent-state slot of the sequence, kv_cache.h).
//
// Per token, h [hidden] the layer's normalised input:
//   qkv = in_proj_qkv(h)  [q (nk x dk) | k (nk x dk) | v (nv x dv)];  z = in_proj_z(h) [nv x dv]
//   b = in_proj_b(h), a = in_proj_a(h)                [nv]
//   core = gated delta rule over conv1d(qkv) (Backend::gated_delta, GatedDeltaParams)
//   out = out_proj(rms_norm(core per value head) * norm.weight * silu(z))
// Qwen3.5's checkpoints store these four projections; Qwen3-Next's fuse them per key head
// (in_proj_qkvz, in_proj_ba), which its architecture regroups into these at open.
#include <cstdint>

#include "backend/backend.h"
#include "backend/kv_cache.h"
#include "format/tensor.h"
#include "model/config.h"

namespace ax {

class ModelSource;

// One layer's tensors (views into the model file), under model.layers.l.linear_attn.
struct GatedDeltaTensors {
  TensorView qkv, z, b, a;                // in_proj_qkv [channels, H], in_proj_z [nv*dv, H], in_proj_b/a [nv, H]
  const TensorView* conv = nullptr;       // conv1d.weight [channels, 1, kernel]
  const TensorView* a_log = nullptr;      // A_log [nv]
  const TensorView* dt_bias = nullptr;    // dt_bias [nv]
  const TensorView* norm = nullptr;       // norm.weight [dv] (plain w, not 1 + w)
  TensorView out;                         // out_proj [H, nv*dv]
};
GatedDeltaTensors find_gated_delta_tensors(const ModelSource& src, const ModelConfig& cfg, int64_t layer);

// The uploaded weights, and the layer's shape (p.state_offset: where its state lies in a slot).
struct GatedDeltaWeights {
  const Weight* qkv = nullptr;
  const Weight* z = nullptr;
  const Weight* b = nullptr;
  const Weight* a = nullptr;
  const Weight* out = nullptr;
  DeviceVector conv, neg_a, dt_bias, norm;
  GatedDeltaParams p;  // points at conv, neg_a and dt_bias: keep the struct where it is built
};
// Uploads t's vectors into w (its linears are the caller's: qkv, z, b, a, out in that order).
void load_gated_delta_vectors(const GatedDeltaTensors& t, const GatedDeltaConfig& c, int64_t state_offset,
                              Backend& be, GatedDeltaWeights& w);

// Per-step buffers: qkv [T, channels], z and core [T, nv*dv], a and b [T, nv].
struct GatedDeltaScratch {
  Tensor qkv, z, a, b, core;
};
int64_t gated_delta_scratch_floats_per_token(const GatedDeltaConfig& c);
inline constexpr int64_t kGatedDeltaScratchBuffers = 5;
GatedDeltaScratch take_gated_delta_scratch(Workspace& ws, const GatedDeltaConfig& c, int64_t T);

// The token mixer for every token of the step: h [T, hidden], out [T, hidden]; eps: the gated
// norm's epsilon (rms_norm_eps).
void gated_delta_block(Backend& be, const GatedDeltaWeights& w, const StepView& step, KvCache& kv, const Tensor& h,
                       const GatedDeltaScratch& s, float eps, Tensor out);

}  // namespace ax
