#pragma once
// Helpers for the golden tests: reading a fixture's reference.safetensors and running a model
// over one sequence through the paged KV cache.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <memory>
#include <string>
#include <vector>

#include "backend/kv_cache.h"
#include "format/safetensors.h"
#include "model/model.h"
#include "util/error.h"

namespace ax::test {

struct Reference {
  std::unique_ptr<SafetensorsFile> file;
  std::vector<int32_t> ints(const std::string& name) const;  // an I32 tensor
  std::vector<float> floats(const std::string& name) const;  // an F32 tensor
  int64_t rows(const std::string& name) const;
};

// One sequence in its own cache. Blocks are handed out in a scrambled order so the test also
// checks that attention follows the block table rather than assuming contiguity.
class SequenceRunner {
 public:
  SequenceRunner(Model& model, int64_t max_tokens, int64_t block_size = 16, uint32_t shuffle_seed = 1,
                 KvType kv_type = KvType::F32);
  // Feeds tokens at the current position; returns logits for every fed token [n, vocab]
  // (all_rows) or only the last [1, vocab].
  std::vector<float> feed(const std::vector<int32_t>& tokens, bool all_rows);
  int64_t position() const { return pos_; }
  KvCache& cache() { return *kv_; }
  const std::vector<int32_t>& block_table() const { return table_; }

 private:
  Model& model_;
  std::unique_ptr<KvCache> kv_;
  std::vector<int32_t> table_;
  int64_t pos_ = 0;
};

struct Diff {
  double max_abs = 0;  // max |a - b|
  double scale = 0;    // max |b| (the reference)
  double tolerance(double rel) const { return rel * std::max(1.0, scale); }
};


inline Reference open_reference(const std::string& path) { return Reference{SafetensorsFile::open(path)}; }

inline std::vector<int32_t> Reference::ints(const std::string& name) const {
  const TensorView* t = file->tensor(name);
  if (t == nullptr || t->dtype != DType::I32) fail("{}: no I32 tensor '{}'", file->path(), name);
  std::vector<int32_t> v(t->numel());
  std::memcpy(v.data(), t->data, v.size() * 4);
  return v;
}

inline std::vector<float> Reference::floats(const std::string& name) const {
  const TensorView* t = file->tensor(name);
  if (t == nullptr || t->dtype != DType::F32) fail("{}: no F32 tensor '{}'", file->path(), name);
  std::vector<float> v(t->numel());
  std::memcpy(v.data(), t->data, v.size() * 4);
  return v;
}

inline int64_t Reference::rows(const std::string& name) const {
  const TensorView* t = file->tensor(name);
  if (t == nullptr) fail("{}: no tensor '{}'", file->path(), name);
  return t->shape.at(0);
}

inline SequenceRunner::SequenceRunner(Model& model, int64_t max_tokens, int64_t block_size, uint32_t shuffle_seed,
                                      KvType kv_type)
    : model_(model) {
  const int64_t blocks = (max_tokens + block_size - 1) / block_size;
  // Twice the blocks needed, and the table takes every other one in shuffled order.
  kv_ = std::make_unique<KvCache>(model.backend(), model.kv_shape(), 2 * blocks, block_size, kv_type, 1);
  std::vector<int32_t> ids(2 * blocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), std::mt19937(shuffle_seed));
  table_.assign(ids.begin(), ids.begin() + blocks);
}

inline std::vector<float> SequenceRunner::feed(const std::vector<int32_t>& tokens, bool all_rows) {
  StepInput in(static_cast<int32_t>(kv_->block_size()));
  const int64_t n = static_cast<int64_t>(tokens.size());
  in.add_sequence(tokens, pos_, table_, /*state_slot=*/0);
  if (all_rows) {
    for (int64_t i = 0; i < n; ++i) in.add_logit_row(i);
  } else {
    in.add_logit_row(n - 1);
  }
  const std::span<const float> logits = model_.backend().to_host(model_.forward(in, *kv_));
  pos_ += n;
  return {logits.begin(), logits.end()};
}

inline Diff compare(const float* got, const float* want, size_t n) {
  Diff d;
  for (size_t i = 0; i < n; ++i) {
    d.max_abs = std::max(d.max_abs, std::abs(static_cast<double>(got[i]) - want[i]));
    d.scale = std::max(d.scale, std::abs(static_cast<double>(want[i])));
    if (std::isnan(got[i])) d.max_abs = INFINITY;
  }
  return d;
}

// The reduced-precision criterion of the fixtures' README, for paths that round activations or
// weights below float32 (the bf16 prefill GEMM): per-row cosine similarity, and the argmax wherever
// the reference's top-2 margin exceeds 5% of the row's scale.
struct LooseDiff {
  double min_cosine = 1.0;
  int64_t rows_below_0_99 = 0;  // rows whose cosine is under 0.99
  int64_t confident_argmax_mismatches = 0;
};

inline double top2_margin(const float* row, int64_t n) {
  float a = -INFINITY, b = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    if (row[i] > a) {
      b = a;
      a = row[i];
    } else if (row[i] > b) {
      b = row[i];
    }
  }
  return static_cast<double>(a) - b;
}

inline double row_scale(const float* row, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s = std::max(s, std::abs(static_cast<double>(row[i])));
  return s;
}

int32_t argmax(const float* row, int64_t n);

inline LooseDiff loose_compare(const float* got, const float* want, int64_t rows, int64_t n) {
  LooseDiff d;
  for (int64_t r = 0; r < rows; ++r) {
    const float* g = got + r * n;
    const float* w = want + r * n;
    double gw = 0, gg = 0, ww = 0;
    for (int64_t i = 0; i < n; ++i) {
      gw += static_cast<double>(g[i]) * w[i];
      gg += static_cast<double>(g[i]) * g[i];
      ww += static_cast<double>(w[i]) * w[i];
    }
    const double cosine = gw / std::sqrt(gg * ww);
    d.min_cosine = std::min(d.min_cosine, cosine);
    if (cosine < 0.99) ++d.rows_below_0_99;
    if (top2_margin(w, n) > 0.05 * row_scale(w, n) && argmax(g, n) != argmax(w, n)) ++d.confident_argmax_mismatches;
  }
  return d;
}

inline int32_t argmax(const float* row, int64_t n) {
  int32_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (row[i] > row[best]) best = static_cast<int32_t>(i);
  return best;
}

}  // namespace ax::test
