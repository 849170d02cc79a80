#include "tokenizer/chat_prompt.h"

namespace ax {

ChatTemplateOptions chat_template_options(const Tokenizer& tok) {
  ChatTemplateOptions opt;
  opt.add_generation_prompt = true;
  if (tok.bos_id() >= 0) opt.bos_token = tok.token_piece(tok.bos_id());
  if (tok.eos_id() >= 0) opt.eos_token = tok.token_piece(tok.eos_id());
  return opt;
}

ChatPrompt::ChatPrompt(const Tokenizer& tok, std::string_view template_source)
    : tok_(tok), options_(chat_template_options(tok)) {
  if (!template_source.empty()) tpl_ = std::make_unique<ChatTemplate>(template_source);
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
