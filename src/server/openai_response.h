#pragma once
// Building OpenAI-shaped response bodies and SSE events. Model text may end inside a UTF-8
// character (a logprob token, a cut stream); every serialisation here replaces invalid bytes with
// U+FFFD instead of throwing.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ax::server {

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;  // prompt tokens whose KV came from the prefix cache
  int64_t reasoning_tokens = 0;  // completion tokens spent thinking (chat)
};

// Usage of a request: each prompt once (its choices_per_prompt consecutive choices share it),
// completions summed. Choice is any type with `metrics` (engine RequestMetrics).
template <typename Choice>
Usage total_usage(const std::vector<Choice>& choices, size_t choices_per_prompt) {
  Usage u;
  for (size_t i = 0; i < choices.size(); ++i) {
    // Choices of one prompt share it: its tokens count once, as OpenAI counts them.
    if (i % choices_per_prompt == 0) {
      u.prompt_tokens += choices[i].metrics.prompt_tokens;
      u.cached_tokens += choices[i].metrics.cached_tokens;
    }
    u.completion_tokens += choices[i].metrics.completion_tokens;
  }
  return u;
}

struct TopLogprob {
  int32_t token = -1;
  std::string bytes;  // the token's bytes as it appears in text
  float logprob = 0;
};

struct TokenLogprob {
  int32_t token = -1;
  std::string bytes;
  float logprob = 0;
  std::vector<TopLogprob> top;
};

// Compact JSON, invalid UTF-8 replaced.
std::string dump_json(const nlohmann::json& j);
// "data: <json>\n\n"
std::string sse_data(const nlohmann::json& j);
inline constexpr const char* kSseDone = "data: [DONE]\n\n";

// "chatcmpl-<24 hex>", "cmpl-<24 hex>"; separator '_' for "msg_<24 hex>", "resp_<24 hex>".
std::string new_response_id(const char* prefix, char separator = '-');
int64_t unix_time_now();

nlohmann::json usage_json(const Usage& u);
// Chat: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}
nlohmann::json chat_logprobs_json(const std::vector<TokenLogprob>& lps);
// Completions (legacy): {"tokens", "token_logprobs", "top_logprobs", "text_offset"}; text_offset
// counts bytes from text_offset_base.
nlohmann::json completion_logprobs_json(const std::vector<TokenLogprob>& lps, int64_t text_offset_base);

// Makes a string safe to embed in JSON (invalid UTF-8 -> U+FFFD).
std::string valid_utf8(const std::string& s);

}  // namespace ax::server
