#pragma once
// A chat request rendered with the model's own chat template and tokenized: what
// /v1/chat/completions generates from and what /tokenize counts for {"messages": [...]}.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/openai_request.h"
#include "server/server_context.h"
#include "tokenizer/chat_template.h"

namespace ax::server {

// The messages a template gets for a chat request, with what the template cannot show filled in
// (template_caps.h): "" for a null content it cannot render; tools it does not show described in
// the system message (added first when there is none), with the <tool_call> format the server
// parses; an assistant's tool_calls it does not show written into the content as <tool_call>
// blocks; tool results it does not show sent as a user message in <tool_response> tags.
struct TemplateMessages {
  nlohmann::ordered_json messages;
  std::function<std::string(size_t)> field;  // the request field messages[i] stands for
};
TemplateMessages template_messages(const ChatRequest& cr, const nlohmann::ordered_json& raw,
                                   const ChatTemplateCaps& caps, bool with_tools);

// raw: the request body parsed with key order kept (templates print tool schemas as sent).
// with_tools: hand raw["tools"] to the template. A model without a usable template, or a
// template that fails on these messages, is a 400 naming 'messages'.
std::vector<int32_t> render_chat_prompt(ServingContext& ctx, const ChatRequest& cr, const nlohmann::ordered_json& raw,
                                        bool with_tools);

// The same conversation as text, before tokenization (POST /apply-template). Without the
// generation prompt it ends after the last message (a prefix for a conversation that goes on).
std::string render_chat_text(ServingContext& ctx, const ChatRequest& cr, const nlohmann::ordered_json& raw,
                             bool with_tools, bool add_generation_prompt = true);

}  // namespace ax::server
