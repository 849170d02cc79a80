#include "tokenizer/chat_prompt.h"

namespace ax {

ChatPrompt::ChatPrompt(const Tokenizer& tok, std::string_view template_source) : tok_(tok) {
  if (!template_source.empty()) tpl_ = std::make_unique<ChatTemplate>(template_source);
  options_.add_generation_prompt = true;
  // Templates print these as text ("{{ bos_token }}"); tokenizing with parse_special turns them
  // back into the one token.
  if (tok.bos_id() >= 0) options_.bos_token = tok.token_piece(tok.bos_id());
  if (tok.eos_id() >= 0) options_.eos_token = tok.token_piece(tok.eos_id());
}

std::string ChatPrompt::render(const nlohmann::ordered_json& messages) const {
  if (!tpl_) return render_chatml(messages, /*add_generation_prompt=*/true);
  return tpl_->render(messages, options_);
}

std::vector<int32_t> ChatPrompt::encode(const nlohmann::ordered_json& messages) const {
  std::vector<int32_t> ids = tok_.encode(render(messages), /*add_special=*/false, /*parse_special=*/true);
  const int32_t bos = tok_.bos_id();
  if (tok_.adds_bos() && bos >= 0 && (ids.empty() || ids.front() != bos)) ids.insert(ids.begin(), bos);
  return ids;
}

std::vector<std::string> ChatPrompt::stop_strings() const {
  if (tpl_ || tok_.token_id("<|im_end|>") >= 0) return {};
  return {"<|im_end|>"};
}

}  // namespace ax
