#pragma once
// A stand-in model for engine tests: no weights, but it uses the paged KV cache the way a real
// model must. forward() writes (token, position) into each new token's K slot through the step's
// slot mapping (in 10-bit digits, which an f16 cache keeps exactly), and the logits of a row are a
// pseudo-random function of the WHOLE token history read back through the block table. So a wrong table, a stale or overwritten shared block, a rollback
// that loses data or a position mix-up changes the tokens the engine produces (or throws), just as
// it would corrupt a real model's output.
#include <atomic>
#include <cstdint>
#include <vector>

#include "backend/backend.h"
#include "backend/kv_cache.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace ax::test {

class MockModel final : public Model {
 public:
  explicit MockModel(int64_t vocab = 61, int64_t max_positions = 4096, std::vector<int64_t> eos = {})
      : backend_(make_backend({.kind = "cpu", .threads = 1})) {
    cfg_.arch_name = "mock";
    cfg_.vocab_size = vocab;
    cfg_.hidden_size = 8;
    cfg_.intermediate_size = 8;
    cfg_.num_layers = 1;
    cfg_.num_heads = 1;
    cfg_.num_kv_heads = 1;
    cfg_.head_dim = 4;  // K slot: token % 1024, token / 1024, position % 1024, position / 1024
    cfg_.max_position_embeddings = max_positions;
    cfg_.eos_token_ids = std::move(eos);
  }
  const ModelConfig& config() const override { return cfg_; }
  Backend& backend() const override { return *backend_; }

  Tensor forward(const StepInput& in, KvCache& kv) override {
    if (fail_next) {
      fail_next = false;
      fail("mock model: asked to fail");
    }
    ++calls;
    rows += in.num_tokens();
    max_rows = std::max<int64_t>(max_rows, in.num_tokens());
    in.validate(kv.num_blocks(), cfg_.vocab_size);
    const int64_t bs = kv.block_size();
    for (int64_t t = 0; t < in.num_tokens(); ++t) {  // each token's K slot through its slot mapping
      const int64_t pos = in.positions[t], tok = in.tokens[t];
      const float k[4] = {static_cast<float>(tok % 1024), static_cast<float>(tok / 1024),
                          static_cast<float>(pos % 1024), static_cast<float>(pos / 1024)};
      const float v[4] = {};
      kv.store(0, in.slots[t] / bs, in.slots[t] % bs, k, v);
    }
    const int64_t V = cfg_.vocab_size;
    logits_.assign(in.logit_rows.size() * V, 0.0f);
    for (size_t r = 0; r < in.logit_rows.size(); ++r) {
      const int64_t row = in.logit_rows[r], s = in.token_seq[row];
      const int32_t* table = in.block_tables.data() + in.table_begin[s];
      const int64_t pos = in.positions[row];
      uint64_t h = 0x9E3779B97F4A7C15ull;
      for (int64_t q = 0; q <= pos; ++q) {  // the whole history, read back through the block table
        float k[4], v[4];
        kv.load(0, table[q / bs], q % bs, k, v);
        const int64_t held = static_cast<int64_t>(k[2]) + 1024 * static_cast<int64_t>(k[3]);
        if (held != q) fail("mock model: the K slot of position {} holds position {}", q, held);
        h = mix(h ^ static_cast<uint64_t>(k[0] + 1024 * k[1]));
      }
      float* out = logits_.data() + r * V;
      for (int64_t v = 0; v < V; ++v)
        out[v] = static_cast<float>((mix(h + static_cast<uint64_t>(v)) >> 11) * 0x1.0p-53 * 6.0);
    }
    // Host memory is the CPU backend's memory: to_host reads it in place.
    return Tensor{logits_.data(), static_cast<int64_t>(in.logit_rows.size()), V};
  }

  static uint64_t mix(uint64_t x) {  // splitmix64 finalizer
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
  }

  std::atomic<int64_t> calls{0}, rows{0}, max_rows{0};
  bool fail_next = false;

 private:
  ModelConfig cfg_;
  std::unique_ptr<Backend> backend_;
  std::vector<float> logits_;
};

// Token i decodes to one lowercase letter ('a' + i % 26); the ids in `special` are control tokens
// with no text.
class MockTokenizer final : public Tokenizer {
 public:
  MockTokenizer(int32_t vocab, std::vector<int32_t> special) : vocab_(vocab), special_(std::move(special)) {}
  std::vector<int32_t> encode(std::string_view text, bool, bool) const override {
    std::vector<int32_t> ids;
    for (char c : text) ids.push_back(c - 'a');
    return ids;
  }
  // Control tokens have no text, so no text can forge one.
  std::vector<int32_t> encode_with_plain_spans(std::string_view text, bool add_special,
                                               const std::vector<Span>&) const override {
    return encode(text, add_special, true);
  }
  std::string token_bytes(int32_t id) const override {
    return is_special(id) ? std::string() : std::string(1, static_cast<char>('a' + id % 26));
  }
  std::string token_piece(int32_t id) const override { return token_bytes(id); }
  std::string decode(const std::vector<int32_t>& ids, bool skip_special) const override {
    std::string s;
    for (int32_t id : ids) s += token_bytes(id);
    return s;
  }
  int32_t vocab_size() const override { return vocab_; }
  int32_t bos_id() const override { return -1; }
  int32_t eos_id() const override { return special_.empty() ? -1 : special_[0]; }
  bool is_special(int32_t id) const override {
    for (int32_t s : special_)
      if (s == id) return true;
    return false;
  }
  std::string kind() const override { return "mock"; }

 private:
  int32_t vocab_;
  std::vector<int32_t> special_;
};

}  // namespace ax::test
