#pragma once
// OpenAI Responses request bodies (POST /v1/responses), validated and translated into the chat
// shape the rest of the server speaks (chat_generation.h):
//   instructions                          -> a leading system message (not carried to follow-ups)
//   input: a string                       -> a user message
//   input items: messages (role + string or input_text/output_text parts), function_call items
//     -> an assistant message's tool_calls, function_call_output -> a tool message, reasoning
//     items -> the next assistant message's reasoning_content
//   tools [{type: function, name, description, parameters}], tool_choice, text.format
//   (text / json_object / json_schema), reasoning.effort, max_output_tokens, temperature, top_p
// previous_response_id's conversation (responses_store.h) goes before the new input.
#include <string>

#include <nlohmann/json.hpp>

#include "server/chat_generation.h"
#include "server/openai_request.h"

namespace ax::server {

struct ResponsesRequest {
  ChatRequest chat;                  // the translated request
  nlohmann::ordered_json chat_body;  // the same in OpenAI chat shape, key order kept
  nlohmann::ordered_json conversation;  // history + the new input as chat messages, without instructions
  ThinkingOptions thinking;
  bool stream = false;
  bool store = true;
  std::string previous_response_id;
  // The request's settings as the response object repeats them (instructions, tools, text, ...).
  nlohmann::json echo;
};

// The previous_response_id a body names ("" if none); checked before the rest so the route can
// fetch the history that parse_responses_request then takes.
std::string previous_response_id_of(const nlohmann::json& body);

// body and raw: the same body, parsed plainly and with key order kept. history: the chat messages
// of the conversation previous_response_id names (an empty array if none).
ResponsesRequest parse_responses_request(const nlohmann::json& body, const nlohmann::ordered_json& raw,
                                         const nlohmann::ordered_json& history);

}  // namespace ax::server
