#include "model/mla.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "format/dequant.h"
#include "model/decoder.h"
#include "model/model_source.h"
#include "util/error.h"
#include "util/half.h"

namespace ax {
namespace {

// A tensor of its own over bytes that t keeps alive.
TensorView owned_view(MlaLayerTensors& t, std::string name, DType dtype, std::vector<int64_t> shape,
                      std::vector<uint8_t> bytes) {
  auto held = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
  TensorView v;
  v.name = std::move(name);
  v.dtype = dtype;
  v.shape = std::move(shape);
  v.data = held->data();
  v.nbytes = held->size();
  t.owned.push_back(std::move(held));
  return v;
}

// Rows [part0, part0 + width) of every head's block of `head_rows` rows in q, gathered into one
// matrix [heads * width, cols] (the stored bytes: any dtype).
TensorView head_part_rows(MlaLayerTensors& t, const TensorView& q, int64_t heads, int64_t head_rows, int64_t part0,
                          int64_t width, const char* part) {
  const size_t rb = row_bytes(q.dtype, q.cols());
  std::vector<uint8_t> bytes(static_cast<size_t>(heads * width) * rb);
  for (int64_t h = 0; h < heads; ++h)
    std::memcpy(bytes.data() + static_cast<size_t>(h * width) * rb, q.data + static_cast<size_t>(h * head_rows + part0) * rb,
                static_cast<size_t>(width) * rb);
  return owned_view(t, fmt::format("{}[{}]", q.name, part), q.dtype, {heads * width, q.cols()}, std::move(bytes));
}

// w [rows, cols] transposed to [cols, rows]: in w's type where that holds any value exactly (F32,
// F16, BF16), else as F32.
TensorView transposed(MlaLayerTensors& t, const TensorView& w) {
  const int64_t rows = w.rows(), cols = w.cols();
  const std::vector<float> v = dequantize(w);
  const DType out = w.dtype == DType::F16 || w.dtype == DType::BF16 ? w.dtype : DType::F32;
  const size_t es = out == DType::F32 ? 4 : 2;
  std::vector<uint8_t> bytes(static_cast<size_t>(rows * cols) * es);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const float x = v[static_cast<size_t>(r * cols + c)];
      uint8_t* dst = bytes.data() + static_cast<size_t>(c * rows + r) * es;
      if (out == DType::F32) {
        std::memcpy(dst, &x, 4);
      } else {
        const uint16_t hbits = out == DType::F16 ? f32_to_fp16(x) : f32_to_bf16(x);
        std::memcpy(dst, &hbits, 2);
      }
    }
  return owned_view(t, w.name + "^T", out, {cols, rows}, std::move(bytes));
}

}  // namespace

std::vector<TensorView*> MlaLayerTensors::linears() {
  std::vector<TensorView*> out;
  if (q_a_norm != nullptr) out.push_back(&q_a);
  for (TensorView* w : {&kv_latent, &kv_rope, &q_nope, &q_rope}) out.push_back(w);
  for (TensorView& w : k_absorb) out.push_back(&w);
  for (TensorView& w : v_absorb) out.push_back(&w);
  out.push_back(&o);
  return out;
}

MlaLayerTensors find_mla_tensors(const ModelSource& src, const ModelConfig& cfg, int64_t layer) {
  const MlaConfig& a = cfg.mla;
  const int64_t H = cfg.hidden_size, nh = cfg.num_heads, c = a.kv_lora_rank, nope = a.qk_nope_head_dim,
                rope = a.qk_rope_head_dim, v = a.v_head_dim;
  const std::string p = fmt::format("model.layers.{}.self_attn.", layer);
  MlaLayerTensors t;
  const TensorView* q = nullptr;
  if (a.q_lora_rank > 0) {
    t.q_a = src.get(p + "q_a_proj.weight", {a.q_lora_rank, H});
    t.q_a_norm = &src.get(p + "q_a_layernorm.weight", {a.q_lora_rank});
    q = &src.get(p + "q_b_proj.weight", {nh * (nope + rope), a.q_lora_rank});
  } else {
    q = &src.get(p + "q_proj.weight", {nh * (nope + rope), H});
  }
  t.q_nope = head_part_rows(t, *q, nh, nope + rope, 0, nope, "nope");
  t.q_rope = head_part_rows(t, *q, nh, nope + rope, nope, rope, "rope");
  const TensorView& kv_a = src.get(p + "kv_a_proj_with_mqa.weight", {c + rope, H});
  t.kv_latent = row_slice(kv_a, 0, c);
  t.kv_rope = row_slice(kv_a, c, rope);
  t.kv_norm = &src.get(p + "kv_a_layernorm.weight", {c});
  if (src.find(p + "kv_b_proj.weight") != nullptr) {  // Hugging Face, and older llama.cpp files
    const TensorView& kv_b = src.get(p + "kv_b_proj.weight", {nh * (nope + v), c});
    for (int64_t h = 0; h < nh; ++h) {
      t.k_absorb.push_back(transposed(t, row_slice(kv_b, h * (nope + v), nope)));
      t.v_absorb.push_back(row_slice(kv_b, h * (nope + v) + nope, v));
    }
  } else {  // llama.cpp's attn_k_b (already transposed) and attn_v_b
    const TensorView& k_b = src.get(p + "k_b_proj.weight", {nh, c, nope});
    const TensorView& v_b = src.get(p + "v_b_proj.weight", {nh, v, c});
    for (int64_t h = 0; h < nh; ++h) {
      t.k_absorb.push_back(expert_slice(k_b, h));
      t.v_absorb.push_back(expert_slice(v_b, h));
    }
  }
  t.o = src.get(p + "o_proj.weight", {H, nh * v});
  return t;
}

MlaShape mla_shape(const ModelConfig& c) {
  const MlaConfig& a = c.mla;
  return {c.num_heads, a.q_lora_rank, a.kv_lora_rank, a.qk_nope_head_dim, a.qk_rope_head_dim, a.v_head_dim,
          c.attention_scale(), a.latent_norm_eps};
}

MlaWeights mla_weights(const MlaLayerTensors& t, Backend& be, const std::vector<WeightPtr>& weights, size_t& next) {
  auto take = [&] { return weights.at(next++).get(); };
  auto norm = [&](const TensorView* v) { return be.load_vector(dequantize(*v)); };
  MlaWeights w;
  if (t.q_a_norm != nullptr) {
    w.q_a = take();
    w.q_a_norm = norm(t.q_a_norm);
  }
  w.kv_latent = take();
  w.kv_rope = take();
  w.q_nope = take();
  w.q_rope = take();
  for (size_t h = 0; h < t.k_absorb.size(); ++h) w.k_absorb.push_back(take());
  for (size_t h = 0; h < t.v_absorb.size(); ++h) w.v_absorb.push_back(take());
  w.o = take();
  w.kv_norm = norm(t.kv_norm);
  return w;
}

int64_t mla_scratch_floats_per_token(const MlaShape& s) {
  const int64_t nh = s.heads, c = s.latent, r = s.rope;
  return s.q_lora + nh * (s.nope + r) + c + r + nh * c + nh * (c + r) + (c + r) + nh * c + nh * s.v;
}

MlaScratch take_mla_scratch(Workspace& ws, const MlaShape& s, int64_t T) {
  const int64_t nh = s.heads, c = s.latent, r = s.rope;
  MlaScratch x;
  x.q_a = ws.take(T, s.q_lora);
  x.q_nope = ws.take(T, nh * s.nope);
  x.q_rope = ws.take(T, nh * r);
  x.latent = ws.take(T, c);
  x.k_rope = ws.take(T, r);
  x.q_latent = ws.take(T, nh * c);
  x.q = ws.take(T, nh * (c + r));
  x.k = ws.take(T, c + r);
  x.ctx_latent = ws.take(T, nh * c);
  x.ctx = ws.take(T, nh * s.v);
  return x;
}

void mla_attention_block(Backend& be, const MlaWeights& w, const MlaShape& s, const RopeTable& rope,
                         const StepView& step, KvCache& kv, int64_t layer, const Tensor& h, const MlaScratch& x,
                         Tensor out) {
  // The projections that read h: the query's low-rank half (or the query itself), the latent and k_rope.
  if (w.q_a != nullptr) {
    const Weight* ws[] = {w.q_a, w.kv_latent, w.kv_rope};
    const Tensor ys[] = {x.q_a, x.latent, x.k_rope};
    be.linear_many(ws, h, ys);
    be.rms_norm(x.q_a, w.q_a_norm, s.norm_eps, x.q_a);
    const Weight* qw[] = {w.q_nope, w.q_rope};
    const Tensor qy[] = {x.q_nope, x.q_rope};
    be.linear_many(qw, x.q_a, qy);
  } else {
    const Weight* ws[] = {w.q_nope, w.q_rope, w.kv_latent, w.kv_rope};
    const Tensor ys[] = {x.q_nope, x.q_rope, x.latent, x.k_rope};
    be.linear_many(ws, h, ys);
  }
  be.rms_norm(x.latent, w.kv_norm, s.norm_eps, x.latent);
  be.rope(step, x.q_rope, s.heads, x.k_rope, 1, s.rope, rope);

  // Queries in latent space [W_uk^T q_nope | q_rope] per head; the cache row [c_kv | k_rope].
  be.linear_heads(w.k_absorb, x.q_nope, x.q_latent);
  be.concat_heads(x.q_latent, x.q_rope, s.heads, x.q);
  be.concat_heads(x.latent, x.k_rope, 1, x.k);
  be.write_kv(step, kv, layer, x.k, Tensor{});

  // Every head over the one latent kv head; the values are the rows' c_kv prefix.
  AttentionParams p;
  p.num_heads = s.heads;
  p.num_kv_heads = 1;
  p.head_dim = s.latent + s.rope;
  p.v_head_dim = s.latent;
  p.scale = s.scale;
  be.attention(step, kv, layer, x.q, x.ctx_latent, p);

  // Each head's latent output to its values, then the output projection.
  be.linear_heads(w.v_absorb, x.ctx_latent, x.ctx);
  be.linear(*w.o, x.ctx, out);
}

}  // namespace ax
