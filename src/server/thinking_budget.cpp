#include "server/thinking_budget.h"

#include <limits>

#include "tokenizer/tokenizer.h"

namespace ax::server {

std::string ThinkingBudget::closing_text(ReasoningFormat format) {
  if (format == ReasoningFormat::Channels) return "<|end|><|start|>assistant<|channel|>final<|message|>";
  return "\n" + std::string(ReasoningParser::kThinkClose) + "\n\n";
}

ThinkingBudget::ThinkingBudget(const Tokenizer& tokenizer, ReasoningFormat format, bool starts_inside, int64_t budget)
    : tokenizer_(tokenizer),
      parser_(format, starts_inside),
      budget_(budget),
      closing_(tokenizer.encode(closing_text(format), /*add_special=*/false, /*parse_special=*/true)) {}

void ThinkingBudget::process(float* logits, int64_t vocab) {
  if (done_ || closing_.empty() || !parser_.inside_reasoning() || thought_tokens_ < budget_) return;
  // Over budget: the next token of the closing text is the only choice.
  const int32_t next = closing_[forced_];
  for (int64_t i = 0; i < vocab; ++i)
    if (i != next) logits[i] = -std::numeric_limits<float>::infinity();
}

void ThinkingBudget::accept(int32_t token) {
  if (done_) return;
  const bool was_inside = parser_.inside_reasoning();
  if (was_inside && thought_tokens_ >= budget_ && forced_ < closing_.size()) {
    if (++forced_ == closing_.size()) done_ = true;
    return;
  }
  parser_.push(tokenizer_.token_bytes(token));
  if (was_inside) {
    ++thought_tokens_;
    if (!parser_.inside_reasoning()) done_ = true;  // the model closed it itself
  }
}

}  // namespace ax::server
