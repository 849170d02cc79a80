#pragma once
// Anthropic Messages request bodies (POST /v1/messages, /v1/messages/count_tokens), validated and
// translated into the OpenAI chat shape the rest of the server speaks (chat_generation.h):
//   system (string or text blocks)      -> a leading system message
//   user text blocks                    -> a user message
//   user tool_result blocks             -> tool messages (tool_call_id = tool_use_id), before the text
//   assistant text / thinking / tool_use -> content / reasoning_content / tool_calls
//   a final assistant message (prefill) -> continue_final_message: the reply continues it
//   tools [{name, description, input_schema}], tool_choice {auto, any, tool, none}
//   stop_sequences, max_tokens, temperature, top_p, top_k, thinking {enabled + budget_tokens, disabled}
// Errors name the Anthropic field ("messages[1].content[0].tool_use_id").
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/chat_generation.h"
#include "server/openai_request.h"

namespace ax::server {

struct MessagesRequest {
  ChatRequest chat;               // the translated request
  nlohmann::ordered_json chat_body;  // the same in OpenAI chat shape, key order kept (for the template)
  ThinkingOptions thinking;
  bool stream = false;
};

// body and raw: the same body, parsed plainly and with key order kept (tool schemas and tool_use
// inputs reach the template as the client wrote them). for_count: /v1/messages/count_tokens
// (max_tokens is not required there).
MessagesRequest parse_messages_request(const nlohmann::json& body, const nlohmann::ordered_json& raw, bool for_count);

// "toolu_<hex>" from the server's "call_<hex>" tool call ids (Anthropic's clients expect the prefix).
std::string anthropic_tool_id(const std::string& call_id);

}  // namespace ax::server
