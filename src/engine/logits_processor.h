#pragma once
// A per-request hook on the logits before sampling, for constrained decoding (the server's JSON
// schema / tool-call grammars). The engine calls process() on a copy of the request's logits row
// right before each sample and accept() with every token that becomes part of the output, in
// order, on the engine thread. A request with a processor is never drafted for (speculative
// verification would sample rows the processor has not seen in order).
// Logprobs reported in events stay those of the model's raw logits.
#include <cstdint>

namespace ax {

class LogitsProcessor {
 public:
  virtual ~LogitsProcessor() = default;
  // logits: [vocab], edited in place (e.g. -inf for tokens the grammar forbids).
  virtual void process(float* logits, int64_t vocab) = 0;
  virtual void accept(int32_t token) = 0;
};

}  // namespace ax
