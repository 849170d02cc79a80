#pragma once
// A loaded model ready to run: forward(batch) writes K/V for every new token into the paged cache
// and returns logits for the requested rows.
#include <memory>
#include <vector>

#include "model/batch.h"
#include "model/config.h"
#include "model/kv_cache.h"
#include "model/model_source.h"

namespace ax {

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelConfig& config() const = 0;
  // logits: [batch.logit_rows.size(), vocab_size], row-major.
  virtual void forward(const Batch& batch, KvCache& kv, std::vector<float>& logits) = 0;
};

// Builds the model for source.config().arch; source must outlive the model (weights are views).
std::unique_ptr<Model> load_model(const ModelSource& source);

}  // namespace ax
