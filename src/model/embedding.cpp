#include "model/embedding.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <nlohmann/json.hpp>

#include "backend/kv_cache.h"
#include "backend/step_input.h"
#include "format/gguf.h"
#include "model/model.h"
#include "model/model_source.h"

namespace ax {

EmbeddingPooling detect_embedding_pooling(const ModelSource& source) {
  if (const GgufFile* g = source.gguf()) {
    const int64_t type = g->get_int_or(source.config().arch_name + ".pooling_type", -1);
    return type == 1 ? EmbeddingPooling::Mean : EmbeddingPooling::Last;
  }
  const std::string dir = source.hf_dir();
  if (dir.empty()) return EmbeddingPooling::Last;
  std::ifstream f(std::filesystem::path(dir) / "1_Pooling" / "config.json");
  if (!f) return EmbeddingPooling::Last;
  const nlohmann::json cfg = nlohmann::json::parse(f, nullptr, false);
  if (!cfg.is_object()) return EmbeddingPooling::Last;
  if (cfg.value("pooling_mode_lasttoken", false)) return EmbeddingPooling::Last;
  if (cfg.value("pooling_mode_mean_tokens", false)) return EmbeddingPooling::Mean;
  return EmbeddingPooling::Last;
}

std::vector<float> embed_tokens(Model& model, std::span<const int32_t> ids, EmbeddingPooling pooling) {
  const int64_t T = static_cast<int64_t>(ids.size()), H = model.config().hidden_size, block = 16;
  Backend& be = model.backend();
  KvCache kv(be, model.kv_shape(), (T + block - 1) / block, block, KvType::F32, /*state_slots=*/1);
  std::vector<int32_t> table(kv.num_blocks());
  std::iota(table.begin(), table.end(), 0);
  StepInput step(static_cast<int32_t>(block));
  step.add_sequence(ids, 0, table, /*state_slot=*/0);
  std::vector<float> v(H, 0.0f);
  std::lock_guard pass(model.pass_mutex());  // read the states before anyone's next pass
  std::span<const float> hidden = be.to_host(model.hidden_states(step, kv));  // [T, H]
  if (pooling == EmbeddingPooling::Mean) {
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h) v[h] += hidden[t * H + h];
    for (auto& x : v) x /= static_cast<float>(T);
  } else {
    std::copy(hidden.end() - H, hidden.end(), v.begin());
  }
  double norm = 0;
  for (float x : v) norm += double(x) * x;
  norm = std::sqrt(norm);
  if (norm > 0)
    for (auto& x : v) x = static_cast<float>(x / norm);
  return v;
}

}  // namespace ax
