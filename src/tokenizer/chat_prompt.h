#pragma once
// A conversation as prompt token ids, the way chat front ends (`ax-engine chat`) need it: rendered
// with the model's own chat template (or, when asked for, the plain ChatML layout), then tokenized
// with special tokens matched whole.
//
// BOS: the template usually writes it itself ("{{ bos_token }}"), so the text is tokenized without
// adding special tokens; when the tokenizer is configured to start every text with BOS and the
// template did not write one, a single BOS is put first. Either way the prompt starts with exactly
// one BOS for such models (as llama.cpp does), never two.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace ax {

// The options every front end renders a model's template with (the CLI's chat, the server, the
// Python package): the generation prompt opened, bos_token / eos_token set to the tokenizer's
// pieces (templates print them as text; tokenizing with parse_special turns them back into the
// one token).
ChatTemplateOptions chat_template_options(const Tokenizer& tok);

class ChatPrompt {
 public:
  // template_source: the model's Jinja template (Tokenizer::chat_template()); empty means the
  // ChatML layout. A template that does not parse is an ax::Error naming line and column.
  // tok must outlive this object.
  ChatPrompt(const Tokenizer& tok, std::string_view template_source);

  bool uses_chatml() const { return !tpl_; }

  // messages: [{"role": "system"|"user"|"assistant"|..., "content": "..."}, ...]; the text ends
  // with the generation prompt (the assistant turn opened). Template errors are ax::Error.
  std::string render(const nlohmann::ordered_json& messages) const;
  // render() tokenized (parse_special) with the BOS rule above.
  std::vector<int32_t> encode(const nlohmann::ordered_json& messages) const;

  // Stop strings the generation needs besides the tokenizer's EOS/end-of-turn ids: with the ChatML
  // layout on a vocabulary that has no "<|im_end|>" token the end of turn is only text.
  std::vector<std::string> stop_strings() const;

 private:
  const Tokenizer& tok_;
  std::unique_ptr<ChatTemplate> tpl_;  // null: ChatML
  ChatTemplateOptions options_;
};

}  // namespace ax
