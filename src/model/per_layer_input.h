#pragma once
// Per-layer embeddings (PLE, Gemma 4's smaller models): besides its hidden state, every token
// carries a small input of its own for each layer (P = ModelConfig::per_layer_input_size values per
// layer), made once per step from the token id and from its embedding, and added into the residual
// stream at the end of that layer through a gated projection.
//
// Per step, e [T, hidden] the scaled token embeddings and L the layer count:
//   ids  = embed_tokens_per_layer[token] * sqrt(P)                     [T, L * P]
//   ctx  = rms_norm_P(per_layer_model_projection(e) * hidden^-0.5)    [T, L * P], each P-wide piece
//                                                                      normed by per_layer_projection_norm
//   inputs = (ctx + ids) * 2^-0.5                                      [T, L * P]
// At the end of layer l (x the residual stream):
//   g = gelu_tanh(per_layer_input_gate(x)) * inputs[:, l * P .. + P)  [T, P]
//   x += post_per_layer_input_norm(per_layer_projection(g))           [T, hidden]
#include <cstdint>

#include "backend/backend.h"
#include "format/tensor.h"
#include "model/config.h"

namespace ax {

class ModelSource;

// The model-wide tensors (views into the model file).
struct PerLayerInputTensors {
  const TensorView* table = nullptr;       // model.embed_tokens_per_layer.weight [vocab, L * P]
  TensorView projection;                   // model.per_layer_model_projection.weight [L * P, hidden]
  const TensorView* norm = nullptr;        // model.per_layer_projection_norm.weight [P]
};
PerLayerInputTensors find_per_layer_input_tensors(const ModelSource& src, const ModelConfig& cfg);

// Layer l's tensors, under model.layers.l.
struct PerLayerInputLayerTensors {
  TensorView gate;                  // per_layer_input_gate.weight [P, hidden]
  TensorView projection;            // per_layer_projection.weight [hidden, P]
  const TensorView* norm = nullptr;  // post_per_layer_input_norm.weight [hidden]
};
PerLayerInputLayerTensors find_per_layer_input_layer_tensors(const ModelSource& src, const ModelConfig& cfg,
                                                             int64_t layer);

// The uploaded model-wide weights (the projection is one of the caller's linears).
struct PerLayerInputWeights {
  WeightPtr table;
  const Weight* projection = nullptr;
  DeviceVector norm;
};

// Every layer's inputs of the step: embedded [T, hidden] the scaled token embeddings; ids and out
// [T, L * P] (ids is scratch).
void per_layer_inputs(Backend& be, const PerLayerInputWeights& w, const ModelConfig& cfg, const StepView& step,
                      const Tensor& embedded, Tensor ids, Tensor out);

// Layer `layer`'s part: x [T, hidden] += post_norm(projection(gelu_tanh(gate(x)) * its inputs)).
// g, u [T, P] and y [T, hidden] are scratch.
void per_layer_input_block(Backend& be, const Weight& gate, const Weight& projection, const DeviceVector& post_norm,
                           float eps, const Tensor& inputs, int64_t layer, Tensor x, Tensor g, Tensor u, Tensor y);

}  // namespace ax
