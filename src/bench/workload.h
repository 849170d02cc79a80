#pragma once
// Turns a manifest's scenario (`shape`) or replay (`events`) into the concrete requests a run
// sends: prompt token ids, output targets, arrival times and cancellations. Deterministic: the
// same manifest and tokenizer give the same workload on every machine (ax::Rng, not <random>'s
// implementation-defined distributions), so two runs, or two engines, see identical requests.
//
// A generated prompt of L tokens (L from input_tokens) in prefix group g = i % prefix_groups:
//   [BOS if the tokenizer adds one] [P tokens shared by group g] [own tokens up to L]
// with P = round(shared_prefix_fraction * mean input length); at least one own token. Tokens come
// from `source`: "random" (uniform over the ordinary, non-special ids) or a named prompt, cut as
// a window at a seeded offset (wrapping around).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/manifest.h"

namespace ax {
class Tokenizer;
}

namespace ax::bench {

// What the generator needs from a tokenizer.
struct TokenSpace {
  int32_t vocab_size = 0;
  int32_t bos = -1;               // put first in generated prompts when >= 0
  std::vector<int32_t> ordinary;  // ids random prompts draw from (no special tokens)
  std::function<std::vector<int32_t>(const std::string&)> encode;  // text -> ids, no BOS/EOS
};
TokenSpace token_space(const Tokenizer& tok);

struct PlannedRequest {
  std::string id;               // "r0007", or the replay's request_id
  std::vector<int32_t> prompt;
  int64_t max_tokens = 0;
  int64_t shared_tokens = 0;    // leading prompt tokens shared with its prefix group
  std::string prefix_group;     // "" for none
  double arrival_ms = -1;       // < 0: closed loop (sent when a client is free)
  uint64_t seed = 0;            // the sampling seed (sampling.seed + index)
};

struct PlannedCancel {
  double t_ms = 0;
  size_t request = 0;  // index into Workload::requests
};

struct Workload {
  std::vector<PlannedRequest> requests;  // in submission order
  std::vector<PlannedCancel> cancels;    // in time order
  bool closed_loop = false;
  int64_t concurrency = 0;  // closed loop: clients; otherwise a cap on requests in flight (0: none)
};

// Throws ManifestError when a token id is outside the vocabulary (naming the field).
Workload build_workload(const Manifest& m, const TokenSpace& space);

}  // namespace ax::bench
