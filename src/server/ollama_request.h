#pragma once
// Ollama request bodies (POST /api/chat, /api/generate), validated and translated into the OpenAI
// chat shape the rest of the server speaks (chat_generation.h):
//   messages [{role, content, thinking, tool_calls [{function: {name, arguments: {...}}}], tool_name}]
//                                     -> OpenAI messages (reasoning_content, tool_calls with the
//                                        arguments serialised, name)
//   generate: system + prompt         -> a system and a user message (or the prompt as-is: raw)
//   options {num_predict, num_ctx, temperature, top_p, top_k, min_p, seed, stop, repeat_penalty,
//            presence_penalty, frequency_penalty, ...}
//                                     -> the OpenAI sampling fields; num_predict and num_ctx bound
//                                        each request's output (applied by the route once the
//                                        prompt's length is known)
//   format "json" | {schema}          -> response_format json_object | json_schema
//   think true | false | "low" ...    -> the template's enable_thinking / reasoning_effort
//   stream (default true), keep_alive -> validated here; used by the route
// images are refused (text-only models). Errors name the Ollama field ("options.temperature").
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/chat_generation.h"
#include "server/openai_request.h"
#include "server/server_context.h"

namespace ax::server {

struct OllamaRequest {
  std::string model;                 // as sent (the replies echo it)
  ChatRequest chat;                  // the translated request
  nlohmann::ordered_json chat_body;  // the same in OpenAI chat shape, key order kept (for the template)
  ThinkingOptions thinking;
  bool stream = true;                // Ollama streams unless told not to
  std::optional<int64_t> num_predict;  // output tokens at most (unset: until the context is full)
  std::optional<int64_t> num_ctx;      // prompt + output tokens at most
  std::optional<double> keep_alive_s;  // as sent, in seconds (negative: forever)
  // Nothing to generate from (no messages; an empty prompt): Ollama's way to load a model.
  bool load_only = false;
  // /api/generate only.
  bool raw = false;             // the prompt goes to the model as written, no chat template
  std::string prompt;           // the prompt text
  std::vector<int32_t> context;  // token ids of an earlier exchange (its response's "context"), continued
};

// body and raw: the same body, parsed plainly and with key order kept.
OllamaRequest parse_ollama_chat(const nlohmann::json& body, const nlohmann::ordered_json& raw);
OllamaRequest parse_ollama_generate(const nlohmann::json& body, const nlohmann::ordered_json& raw);

// keep_alive: seconds as a number, or a duration string ("5m", "1h30m", "90s", "-1"); negative
// means forever. Anything else is a 400 naming keep_alive.
double parse_keep_alive(const nlohmann::json& v);

// A model name as Ollama's clients send it: ":latest" is the tag every name has by default.
std::string ollama_model_name(const std::string& name);
// A 404 {"error": "model \"x\" not found"} unless name (":latest" dropped) is the served model or an alias.
void check_ollama_model(const ServingContext& ctx, const std::string& name);

}  // namespace ax::server
