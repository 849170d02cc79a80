#include "model/per_layer_input.h"

#include <cmath>

#include <fmt/format.h>

#include "model/model_source.h"

namespace ax {

PerLayerInputTensors find_per_layer_input_tensors(const ModelSource& src, const ModelConfig& cfg) {
  const int64_t P = cfg.per_layer_input_size, LP = cfg.num_layers * P;
  PerLayerInputTensors t;
  t.table = &src.get("model.embed_tokens_per_layer.weight", {cfg.vocab_size, LP});
  t.projection = src.get("model.per_layer_model_projection.weight", {LP, cfg.hidden_size});
  t.norm = &src.get("model.per_layer_projection_norm.weight", {P});
  return t;
}

PerLayerInputLayerTensors find_per_layer_input_layer_tensors(const ModelSource& src, const ModelConfig& cfg,
                                                             int64_t layer) {
  const int64_t P = cfg.per_layer_input_size, H = cfg.hidden_size;
  const std::string p = fmt::format("model.layers.{}.", layer);
  PerLayerInputLayerTensors t;
  t.gate = src.get(p + "per_layer_input_gate.weight", {P, H});
  t.projection = src.get(p + "per_layer_projection.weight", {H, P});
  t.norm = &src.get(p + "post_per_layer_input_norm.weight", {H});
  return t;
}

void per_layer_inputs(Backend& be, const PerLayerInputWeights& w, const ModelConfig& cfg, const StepView& step,
                      const Tensor& embedded, Tensor ids, Tensor out) {
  const int64_t P = cfg.per_layer_input_size;
  // The token-identity part: its row of the packed table, scaled as an embedding of width P.
  be.embedding(*w.table, step, ids);
  be.scale(ids, static_cast<float>(std::sqrt(static_cast<double>(P))));
  // The context part: a projection of the embedding, each layer's P values normed on their own.
  be.linear(*w.projection, embedded, out);
  be.scale(out, static_cast<float>(1.0 / std::sqrt(static_cast<double>(cfg.hidden_size))));
  be.rms_norm(out.reshape(P), w.norm, cfg.rms_norm_eps, out.reshape(P));
  be.add(out, ids);
  be.scale(out, static_cast<float>(1.0 / std::sqrt(2.0)));
}

void per_layer_input_block(Backend& be, const Weight& gate, const Weight& projection, const DeviceVector& post_norm,
                           float eps, const Tensor& inputs, int64_t layer, Tensor x, Tensor g, Tensor u, Tensor y) {
  be.linear(gate, x, g);
  be.copy_columns(inputs, layer * g.cols, u);
  be.glu(GluKind::GeluTanh, g, u);  // g = gelu_tanh(g) * u
  be.linear(projection, g, y);
  be.rms_norm(y, post_norm, eps, y);
  be.add(x, y);
}

}  // namespace ax
