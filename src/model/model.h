#pragma once
// A loaded model ready to run on a backend: forward(step) writes K/V for every new token into the
// paged cache and returns logits for the requested rows, in the backend's memory.
#include <memory>
#include <mutex>

#include "backend/backend.h"
#include "backend/kv_cache.h"
#include "backend/step_input.h"
#include "model/config.h"
#include "model/model_source.h"
#include "util/error.h"

namespace ax {

// What a model of config c keeps per token and layer: K and V rows of its kv heads, or for latent
// attention one row [c_kv | k_rope] whose V is the c_kv prefix (model/mla.h).
// Only softmax-attention layers keep K/V; hybrid models add a recurrent state per sequence; models
// whose layer kinds differ in head width (Gemma 4) keep each layer's at its own width.
inline KvShape kv_shape_for(const ModelConfig& c) {
  const int64_t layers = c.num_attention_layers();
  if (c.mla.enabled()) return {layers, 1, c.mla.kv_lora_rank + c.mla.qk_rope_head_dim, c.mla.kv_lora_rank};
  KvShape s{layers, c.num_kv_heads, c.head_dim, 0, c.recurrent_state_floats()};
  if (c.mixed_head_dims())  // one width per attention layer, in cache-layer order
    for (int64_t l = 0; l < c.num_layers; ++l)
      if (c.layers.empty() || !c.layers[l].linear_attention) s.layer_head_dims.push_back(c.layer_head_dim(l));
  return s;
}

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelConfig& config() const = 0;
  virtual Backend& backend() const = 0;
  // What the model keeps per token and layer: the KV cache to build for it.
  virtual KvShape kv_shape() const { return kv_shape_for(config()); }
  // One step: validates `step` against kv, writes the K/V of every token into kv and returns the
  // logits of step.logit_rows, [R, vocab] float32 in the backend's memory (Backend::to_host reads
  // them), valid until the model's next call.
  virtual Tensor forward(const StepInput& step, KvCache& kv) = 0;
  // The same pass without lm_head: the final-normed hidden state of every token of the step (what
  // lm_head would read), [T, hidden], for embeddings. Writes K/V like forward; logit rows are
  // ignored. Models that cannot say (test doubles) keep this default, which refuses.
  virtual Tensor hidden_states(const StepInput& step, KvCache& kv) {
    fail("model '{}' does not expose hidden states (needed for embeddings)", config().arch_name);
  }

  // A pass's result stays valid only until the next pass (it lives in the model's workspace and
  // the backend's host buffers). Threads that run passes beside each other (the engine's thread,
  // embeddings on others) hold this lock from the pass until they are done reading its result.
  std::mutex& pass_mutex() { return pass_mu_; }

 private:
  std::mutex pass_mu_;
};

// Builds the model for source.config().arch on `backend` (weights uploaded once). source and
// backend must outlive the model (the CPU reads weights in place from the source's mapping).
std::unique_ptr<Model> load_model(const ModelSource& source, Backend& backend);

}  // namespace ax
