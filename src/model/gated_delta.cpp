#include "model/gated_delta.h"

#include <cmath>

#include <fmt/format.h>

#include "format/dequant.h"
#include "model/model_source.h"

namespace ax {

GatedDeltaTensors find_gated_delta_tensors(const ModelSource& src, const ModelConfig& cfg, int64_t layer) {
  const GatedDeltaConfig& g = cfg.gated_delta;
  const int64_t H = cfg.hidden_size, C = g.conv_channels(), nv = g.num_v_heads, vw = g.value_width();
  const std::string p = fmt::format("model.layers.{}.linear_attn.", layer);
  GatedDeltaTensors t;
  t.qkv = src.get(p + "in_proj_qkv.weight", {C, H});
  t.z = src.get(p + "in_proj_z.weight", {vw, H});
  t.b = src.get(p + "in_proj_b.weight", {nv, H});
  t.a = src.get(p + "in_proj_a.weight", {nv, H});
  t.conv = &src.get(p + "conv1d.weight", {C, 1, g.conv_kernel});
  t.a_log = &src.get(p + "A_log", {nv});
  t.dt_bias = &src.get(p + "dt_bias", {nv});
  t.norm = &src.get(p + "norm.weight", {g.v_head_dim});
  t.out = src.get(p + "out_proj.weight", {H, vw});
  return t;
}

void load_gated_delta_vectors(const GatedDeltaTensors& t, const GatedDeltaConfig& c, int64_t state_offset,
                              Backend& be, GatedDeltaWeights& w) {
  w.conv = be.load_vector(dequantize(*t.conv));
  std::vector<float> neg_a = dequantize(*t.a_log);
  for (float& x : neg_a) x = -std::exp(x);
  w.neg_a = be.load_vector(neg_a);
  w.dt_bias = be.load_vector(dequantize(*t.dt_bias));
  w.norm = be.load_vector(dequantize(*t.norm));
  w.p.num_k_heads = c.num_k_heads;
  w.p.num_v_heads = c.num_v_heads;
  w.p.k_head_dim = c.k_head_dim;
  w.p.v_head_dim = c.v_head_dim;
  w.p.conv_kernel = c.conv_kernel;
  w.p.v_heads_tiled = c.v_heads_tiled;
  w.p.conv = &w.conv;
  w.p.neg_a = &w.neg_a;
  w.p.dt_bias = &w.dt_bias;
  w.p.state_offset = state_offset;
}

int64_t gated_delta_scratch_floats_per_token(const GatedDeltaConfig& c) {
  return c.conv_channels() + 2 * c.value_width() + 2 * c.num_v_heads;
}

GatedDeltaScratch take_gated_delta_scratch(Workspace& ws, const GatedDeltaConfig& c, int64_t T) {
  return {ws.take(T, c.conv_channels()), ws.take(T, c.value_width()), ws.take(T, c.num_v_heads),
          ws.take(T, c.num_v_heads), ws.take(T, c.value_width())};
}

void gated_delta_block(Backend& be, const GatedDeltaWeights& w, const StepView& step, KvCache& kv, const Tensor& h,
                       const GatedDeltaScratch& s, float eps, Tensor out) {
  const Weight* ws[] = {w.qkv, w.z, w.b, w.a};
  const Tensor ys[] = {s.qkv, s.z, s.b, s.a};
  be.linear_many(ws, h, ys);
  be.gated_delta(step, kv, w.p, s.qkv, s.a, s.b, s.core);
  // The gated norm per value head: rms_norm(core) * w, times silu(z) (into z).
  const int64_t dv = w.p.v_head_dim;
  be.rms_norm(s.core.reshape(dv), w.norm, eps, s.core.reshape(dv));
  be.glu(GluKind::Silu, s.z, s.core);
  be.linear(*w.out, s.z, out);
}

}  // namespace ax
