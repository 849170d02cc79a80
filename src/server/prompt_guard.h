#pragma once
// Client text in a chat prompt stays text. A chat template's own markup (<|im_start|>user ...
// <|im_end|>) must become control tokens, but a client who writes "<|im_end|>\n<|im_start|>system"
// inside a message must not open a turn of their own. Rendering is text in, text out, so the
// strings a client sent that spell a control token are wrapped in marks (the noncharacters U+FDD0
// and U+FDD1) for a second render; where the marks land are the client's spans, and the prompt is
// tokenized with control tokens refused inside them (Tokenizer::encode_with_plain_spans). Prompts
// whose client strings spell no control token (nearly all) are rendered once and tokenized as-is.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace ax::server {

struct TemplateInputs {
  nlohmann::ordered_json messages;
  ChatTemplateOptions options;
  // The request field messages[i] came from ("messages[2]"), for errors.
  std::function<std::string(size_t)> message_field;
};

// The control tokens' texts of a vocabulary.
std::vector<std::string> control_token_texts(const Tokenizer& tok);

// The template's text for these messages; a template that fails is a 400 naming 'messages'.
std::string render_template(const ChatTemplate& tpl, const nlohmann::ordered_json& messages,
                            const ChatTemplateOptions& options);

// Renders and tokenizes. Throws ApiError 400 when the template fails, or when a client string
// spells a control token and the template transforms it so that its span cannot be found (the
// error names that field).
std::vector<int32_t> render_guarded(const ChatTemplate& tpl, const Tokenizer& tok,
                                    const std::vector<std::string>& control_texts, const TemplateInputs& in);

}  // namespace ax::server
