#pragma once
// A thinking budget, enforced while the model generates: once the thought has used its budget of
// tokens, the model is made to close it (the format's closing text, token by token) and goes on
// to the answer. It runs as the request's LogitsProcessor, on the engine thread; a thought the
// model closes itself within the budget is left alone.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/logits_processor.h"
#include "server/reasoning_parser.h"

namespace ax {
class Tokenizer;
}

namespace ax::server {

class ThinkingBudget : public LogitsProcessor {
 public:
  // budget: thought tokens allowed. starts_inside: the prompt opened the thought already.
  ThinkingBudget(const Tokenizer& tokenizer, ReasoningFormat format, bool starts_inside, int64_t budget);

  void process(float* logits, int64_t vocab) override;
  void accept(int32_t token) override;

  // The text that closes a thought in this format, and the answer header after it.
  static std::string closing_text(ReasoningFormat format);

 private:
  const Tokenizer& tokenizer_;
  ReasoningParser parser_;          // follows the output to know whether it is inside the thought
  int64_t budget_;
  int64_t thought_tokens_ = 0;
  std::vector<int32_t> closing_;    // the closing text's tokens, forced one per step once over budget
  size_t forced_ = 0;               // how many of them have been produced
  bool done_ = false;               // the thought is over (closed by the model or by force)
};

}  // namespace ax::server
