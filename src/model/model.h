#pragma once
// A loaded model ready to run: forward(batch) writes K/V for every new token into the paged cache
// and returns logits for the requested rows.
#include <memory>
#include <vector>

#include "model/batch.h"
#include "model/config.h"
#include "model/kv_cache.h"
#include "model/model_source.h"
#include "util/error.h"

namespace ax {

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelConfig& config() const = 0;
  // logits: [batch.logit_rows.size(), vocab_size], row-major.
  virtual void forward(const Batch& batch, KvCache& kv, std::vector<float>& logits) = 0;
  // The same pass without lm_head: the final-normed hidden state of every token of the batch
  // (what lm_head would read), for embeddings. hidden: [batch.num_tokens(), hidden_size],
  // row-major. Writes K/V like forward; batch.logit_rows is ignored. Models that cannot say
  // (test doubles) keep this default, which refuses.
  virtual void hidden_states(const Batch& batch, KvCache& kv, std::vector<float>& hidden) {
    fail("model '{}' does not expose hidden states (needed for embeddings)", config().arch_name);
  }
};

// Builds the model for source.config().arch; source must outlive the model (weights are views).
std::unique_ptr<Model> load_model(const ModelSource& source);

}  // namespace ax
