#pragma once
// A stand-in model for engine tests: no weights, but it uses the paged KV cache the way a real
// model must. forward() writes (token, position) into each new token's K slot through the block
// table (in 10-bit digits, which an f16 cache keeps exactly), and the logits of a row are a pseudo-random function of the WHOLE token history read
// back through the block table. So a wrong table, a stale or overwritten shared block, a rollback
// that loses data or a position mix-up changes the tokens the engine produces (or throws), just as
// it would corrupt a real model's output.
#include <atomic>
#include <cstdint>
#include <vector>

#include "model/kv_cache.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace ax::test {

class MockModel final : public Model {
 public:
  explicit MockModel(int64_t vocab = 61, int64_t max_positions = 4096, std::vector<int64_t> eos = {}) {
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

  void forward(const Batch& batch, KvCache& kv, std::vector<float>& logits) override {
    if (fail_next) {
      fail_next = false;
      fail("mock model: asked to fail");
    }
    ++calls;
    rows += batch.num_tokens();
    max_rows = std::max<int64_t>(max_rows, batch.num_tokens());
    const int64_t bs = kv.block_size();
    for (const BatchSequence& s : batch.sequences) {
      const auto& table = *s.block_table;
      if (static_cast<int64_t>(table.size()) * bs < s.start_pos + s.num_tokens)
        fail("mock model: block table of {} blocks is short for {} positions", table.size(), s.start_pos + s.num_tokens);
      for (int64_t i = 0; i < s.num_tokens; ++i) {
        const int64_t pos = s.start_pos + i, tok = batch.tokens[s.token_offset + i];
        const float k[4] = {static_cast<float>(tok % 1024), static_cast<float>(tok / 1024),
                            static_cast<float>(pos % 1024), static_cast<float>(pos / 1024)};
        const float v[4] = {};
        kv.store(0, table[pos / bs], pos % bs, k, v);
      }
    }
    const int64_t V = cfg_.vocab_size;
    logits.assign(batch.logit_rows.size() * V, 0.0f);
    for (size_t r = 0; r < batch.logit_rows.size(); ++r) {
      const int64_t row = batch.logit_rows[r];
      const BatchSequence* seq = nullptr;
      for (const auto& s : batch.sequences)
        if (row >= s.token_offset && row < s.token_offset + s.num_tokens) seq = &s;
      if (!seq) fail("mock model: logit row {} belongs to no sequence", row);
      const int64_t pos = seq->start_pos + (row - seq->token_offset);
      uint64_t h = 0x9E3779B97F4A7C15ull;
      for (int64_t q = 0; q <= pos; ++q) {
        float k[4], v[4];
        kv.load(0, (*seq->block_table)[q / bs], q % bs, k, v);
        const int64_t held = static_cast<int64_t>(k[2]) + 1024 * static_cast<int64_t>(k[3]);
        if (held != q) fail("mock model: the K slot of position {} holds position {}", q, held);
        h = mix(h ^ static_cast<uint64_t>(k[0] + 1024 * k[1]));
      }
      float* out = logits.data() + r * V;
      for (int64_t v = 0; v < V; ++v)
        out[v] = static_cast<float>((mix(h + static_cast<uint64_t>(v)) >> 11) * 0x1.0p-53 * 6.0);
    }
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
