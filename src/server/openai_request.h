#pragma once
// OpenAI-style request bodies, parsed and validated into plain structs before anything touches the
// engine. Every rejection is an ApiError (400) naming the parameter at fault; unknown fields are
// ignored, as OpenAI-compatible servers do.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ax::server {

// The "speculation" extension: {"mode": "ngram" | "off", "max_draft": k}.
struct SpeculationOptions {
  enum class Mode { Default, Off, Ngram };
  Mode mode = Mode::Default;  // Default: the server's own setting
  int max_draft = 0;          // 0: the engine's default
};

struct SamplingOptions {
  float temperature = 1.0f;
  float top_p = 1.0f;
  int top_k = 0;  // 0: off
  float min_p = 0.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  float repetition_penalty = 1.0f;
  std::vector<std::pair<int32_t, float>> logit_bias;  // token id -> added logit
  std::optional<uint64_t> seed;
};

struct ResponseFormat {
  enum class Kind { Text, JsonObject, JsonSchema };
  Kind kind = Kind::Text;
  std::string name;        // json_schema.name
  nlohmann::json schema;   // json_schema.schema
  std::string schema_param = "response_format.json_schema.schema";  // what errors in the schema name
};

struct ToolSpec {
  std::string name;
  std::string description;
  nlohmann::json parameters;  // JSON schema of the arguments (object)
};

struct ToolChoice {
  enum class Mode { Auto, None, Required, Named };
  Mode mode = Mode::Auto;
  std::string name;  // Named
};

struct ChatMessage {
  std::string role;  // system | user | assistant | tool | developer
  std::string content;
  std::string name;
  std::string tool_call_id;     // role == tool
  nlohmann::json tool_calls;    // role == assistant: as sent ([] or null)
};

// What chat and completions share: how much to generate, how to sample, when to stop, how to answer.
struct GenerationOptions {
  std::optional<int64_t> max_tokens;  // max_tokens / max_completion_tokens
  // vLLM's extension: keep only the last k prompt tokens (an over-long prompt is otherwise a 400).
  std::optional<int64_t> truncate_prompt_tokens;
  SamplingOptions sampling;
  std::vector<std::string> stop;
  int n = 1;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;
  int top_logprobs = 0;
  bool ignore_eos = false;
  SpeculationOptions speculation;
  ResponseFormat response_format;
  std::string user;
};

struct ChatRequest {
  std::string model;
  std::vector<ChatMessage> messages;
  GenerationOptions gen;
  std::vector<ToolSpec> tools;
  nlohmann::json tools_json;  // the tools array as sent (handed to the chat template)
  ToolChoice tool_choice;
};

// One prompt of /v1/completions: text or token ids.
struct CompletionPrompt {
  bool is_tokens = false;
  std::string text;
  std::vector<int32_t> tokens;
};

struct CompletionRequest {
  std::string model;
  // A string or token array is one prompt; an array of them is a batch. Each prompt gets n
  // choices, indexed prompt * n + j, as OpenAI numbers them.
  std::vector<CompletionPrompt> prompts;
  bool batched = false;  // the prompt was an array of prompts (errors then name prompt[i])
  bool echo = false;
  GenerationOptions gen;
};

// Prompts in one /v1/completions request, and choices over all of them.
inline constexpr size_t kMaxBatchPrompts = 64;
inline constexpr size_t kMaxBatchChoices = 128;

// POST /v1/generate and /v1/generate/stream.
struct TokenGenerateRequest {
  enum class Input { Tokens, Text, Messages };
  Input input = Input::Tokens;
  std::vector<int32_t> input_tokens;
  std::string input_text;
  std::vector<ChatMessage> messages;  // rendered with the chat template, as /v1/chat/completions does
  std::optional<int64_t> max_output_tokens;  // unset: the rest of the context, as max_tokens elsewhere
  SamplingOptions sampling;
  bool ignore_eos = false;
  std::vector<int32_t> stop_token_ids;
  std::vector<std::string> stop;             // stop strings, as "stop" on the OpenAI routes
  SpeculationOptions speculation;
  bool logprobs = false;
  int top_logprobs = 0;
};

// JSON nested deeper than this is refused before parsing: everything that walks a JSON value
// (copies, dumps, templates, the schema compiler) recurses, and a body of a few MB can nest a
// million levels.
inline constexpr int kMaxJsonDepth = 256;
// Whether the JSON text's arrays and objects nest at most max_depth levels (strings skipped).
bool json_depth_at_most(std::string_view text, int max_depth);

// Parse a body into JSON; malformed JSON, nesting deeper than kMaxJsonDepth or a non-object is a 400.
nlohmann::json parse_json_body(const std::string& body);

ChatRequest parse_chat_request(const nlohmann::json& body);
CompletionRequest parse_completion_request(const nlohmann::json& body);
TokenGenerateRequest parse_generate_request(const nlohmann::json& body);
SpeculationOptions parse_speculation(const nlohmann::json& v, const std::string& param);
// The sampling fields of a body (temperature, top_p, top_k, min_p, penalties, logit_bias, seed).
void parse_sampling(const nlohmann::json& obj, SamplingOptions& s);
// A stop string or an array of at most 16; empty strings are dropped. param names the field.
void parse_stop_strings(const nlohmann::json& v, const std::string& param, std::vector<std::string>& stop);

// Token ids given by a client must lie inside the vocabulary.
void check_token_ids(const std::vector<int32_t>& ids, int64_t vocab_size, const std::string& param);

}  // namespace ax::server
