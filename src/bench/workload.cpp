#include "bench/workload.h"

#include <fmt/core.h>

#include <cmath>
#include <map>

#include "bench/json_fields.h"
#include "engine/sampler.h"
#include "tokenizer/tokenizer.h"

namespace ax::bench {
namespace {

// Distinct, reproducible streams: one per (seed, purpose, index).
Rng stream(uint64_t seed, uint64_t purpose, uint64_t index) {
  return Rng(seed * 0x9E3779B97F4A7C15ull ^ (purpose << 48) ^ index);
}

int64_t draw(Rng& rng, const TokenRange& r) {
  if (r.fixed()) return r.min;
  return r.min + static_cast<int64_t>(rng.next() % static_cast<uint64_t>(r.max - r.min + 1));
}

// Where prompt tokens come from: random ordinary ids, or windows of a named prompt's tokens.
class Material {
 public:
  Material(const Manifest& m, const TokenSpace& space) : space_(space) {
    const std::string& src = m.shape->source;
    if (src != "random") text_ = tokens_of(m, src, space);
  }
  // n tokens from stream `rng`.
  void append(std::vector<int32_t>& out, Rng& rng, int64_t n) const {
    if (text_.empty()) {
      for (int64_t i = 0; i < n; ++i) out.push_back(space_.ordinary[rng.next() % space_.ordinary.size()]);
      return;
    }
    size_t at = rng.next() % text_.size();
    for (int64_t i = 0; i < n; ++i, at = (at + 1) % text_.size()) out.push_back(text_[at]);
  }

  static std::vector<int32_t> tokens_of(const Manifest& m, const std::string& name, const TokenSpace& space) {
    const PromptSpec& p = m.prompts.at(name);
    const std::vector<int32_t> once = p.is_tokens ? p.tokens : space.encode(p.text);
    std::vector<int32_t> ids;
    for (int64_t r = 0; r < p.repeat; ++r) ids.insert(ids.end(), once.begin(), once.end());
    for (size_t i = 0; i < ids.size(); ++i)
      if (ids[i] < 0 || ids[i] >= space.vocab_size)
        manifest_fail(m.source_path, fmt::format("prompts.{}.tokens[{}] = {} is outside the model's vocabulary of {}",
                                                 name, i, ids[i], space.vocab_size));
    if (ids.empty()) manifest_fail(m.source_path, fmt::format("prompts.{} has no tokens", name));
    return ids;
  }

 private:
  const TokenSpace& space_;
  std::vector<int32_t> text_;
};

Workload from_shape(const Manifest& m, const TokenSpace& space) {
  const ShapeSpec& s = *m.shape;
  if (s.source == "random" && space.ordinary.empty()) manifest_fail(m.source_path, "the model's vocabulary has no ordinary tokens");
  Material material(m, space);
  Workload w;
  w.closed_loop = s.arrival == Arrival::Closed;
  w.concurrency = s.concurrency;
  const int64_t bos = space.bos >= 0 ? 1 : 0;
  const double mean_input = (s.input_tokens.min + s.input_tokens.max) / 2.0;
  const int64_t shared = std::llround(s.shared_prefix_fraction * mean_input);
  std::vector<std::vector<int32_t>> group_prefix(shared > 0 ? s.prefix_groups : 0);
  for (size_t g = 0; g < group_prefix.size(); ++g) {
    Rng rng = stream(s.seed, 1, g);
    material.append(group_prefix[g], rng, shared);
  }
  Rng arrivals = stream(s.seed, 2, 0);
  double t = 0;
  for (int64_t i = 0; i < s.requests; ++i) {
    Rng rng = stream(s.seed, 3, static_cast<uint64_t>(i));
    PlannedRequest r;
    r.id = fmt::format("r{:04d}", i);
    const int64_t len = draw(rng, s.input_tokens);
    r.max_tokens = draw(rng, s.output_tokens);
    if (bos) r.prompt.push_back(space.bos);
    if (shared > 0) {
      const int64_t g = i % s.prefix_groups;
      r.prompt.insert(r.prompt.end(), group_prefix[g].begin(), group_prefix[g].end());
      r.shared_tokens = bos + shared;
      r.prefix_group = fmt::format("g{}", g);
    }
    material.append(r.prompt, rng, std::max<int64_t>(1, len - static_cast<int64_t>(r.prompt.size())));
    r.seed = m.sampling.seed + static_cast<uint64_t>(i);
    if (!w.closed_loop) {
      r.arrival_ms = t;
      t += -std::log(1.0 - arrivals.uniform()) / s.rate_per_s * 1e3;  // exponential gaps
    }
    w.requests.push_back(std::move(r));
  }
  return w;
}

Workload from_replay(const Manifest& m, const TokenSpace& space) {
  Workload w;
  std::map<std::string, size_t> index;
  for (size_t e = 0; e < m.events.size(); ++e) {
    const ReplayEvent& ev = m.events[e];
    if (ev.op == EventOp::Cancel) {
      w.cancels.push_back({ev.t_ms, index.at(ev.request_id)});
      continue;
    }
    PlannedRequest r;
    r.id = ev.request_id;
    // A prompt that starts with text gets the BOS the tokenizer would add (token ids are sent as given).
    const std::string& first = ev.prefix_group.empty() ? ev.prompt : ev.prefix_group;
    if (space.bos >= 0 && !first.empty() && !m.prompts.at(first).is_tokens) r.prompt.push_back(space.bos);
    if (!ev.prefix_group.empty()) {
      const std::vector<int32_t> prefix = Material::tokens_of(m, ev.prefix_group, space);
      r.prompt.insert(r.prompt.end(), prefix.begin(), prefix.end());
      r.shared_tokens = static_cast<int64_t>(r.prompt.size());
      r.prefix_group = ev.prefix_group;
    }
    std::vector<int32_t> own = ev.prompt.empty() ? ev.tokens : Material::tokens_of(m, ev.prompt, space);
    for (size_t i = 0; i < own.size(); ++i)
      if (own[i] >= space.vocab_size)
        manifest_fail(m.source_path, fmt::format("replay event for request \"{}\": tokens[{}] = {} is outside the model's vocabulary of {}",
                                                 ev.request_id, i, own[i], space.vocab_size));
    r.prompt.insert(r.prompt.end(), own.begin(), own.end());
    r.max_tokens = ev.output_tokens;
    r.arrival_ms = ev.t_ms;
    r.seed = m.sampling.seed + index.size();
    index[r.id] = w.requests.size();
    w.requests.push_back(std::move(r));
  }
  return w;
}

}  // namespace

TokenSpace token_space(const Tokenizer& tok) {
  TokenSpace s;
  s.vocab_size = tok.vocab_size();
  s.bos = tok.adds_bos() ? tok.bos_id() : -1;
  for (int32_t id = 0; id < s.vocab_size; ++id)
    if (!tok.is_special(id) && !tok.token_bytes(id).empty()) s.ordinary.push_back(id);
  s.encode = [&tok](const std::string& text) { return tok.encode(text, /*add_special=*/false, /*parse_special=*/true); };
  return s;
}

Workload build_workload(const Manifest& m, const TokenSpace& space) {
  return m.shape ? from_shape(m, space) : from_replay(m, space);
}

}  // namespace ax::bench
