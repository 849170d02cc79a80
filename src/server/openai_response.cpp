#include "server/openai_response.h"

#include <atomic>
#include <chrono>
#include <random>

#include <fmt/core.h>

namespace ax::server {

using nlohmann::json;

std::string dump_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string sse_data(const json& j) { return "data: " + dump_json(j) + "\n\n"; }

std::string new_response_id(const char* prefix, char separator) {
  thread_local std::mt19937_64 rng(std::random_device{}() ^
                                   static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  return fmt::format("{}{}{:016x}{:08x}", prefix, separator, rng(), static_cast<uint32_t>(rng()));
}

int64_t unix_time_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}},
          {"completion_tokens_details", {{"reasoning_tokens", u.reasoning_tokens}}}};
}

std::string valid_utf8(const std::string& s) {
  // Round trip through the serialiser's replacing mode.
  return json::parse(dump_json(json(s))).get<std::string>();
}

namespace {
json byte_array(const std::string& s) {
  json a = json::array();
  for (unsigned char c : s) a.push_back(static_cast<int>(c));
  return a;
}
}  // namespace

json chat_logprobs_json(const std::vector<TokenLogprob>& lps) {
  json content = json::array();
  for (const TokenLogprob& t : lps) {
    json top = json::array();
    for (const TopLogprob& a : t.top)
      top.push_back({{"token", valid_utf8(a.bytes)}, {"logprob", a.logprob}, {"bytes", byte_array(a.bytes)}});
    content.push_back({{"token", valid_utf8(t.bytes)},
                       {"logprob", t.logprob},
                       {"bytes", byte_array(t.bytes)},
                       {"top_logprobs", top}});
  }
  return {{"content", content}};
}

json completion_logprobs_json(const std::vector<TokenLogprob>& lps, int64_t text_offset_base) {
  json tokens = json::array(), token_lps = json::array(), tops = json::array(), offsets = json::array();
  int64_t offset = text_offset_base;
  for (const TokenLogprob& t : lps) {
    tokens.push_back(valid_utf8(t.bytes));
    token_lps.push_back(t.logprob);
    json top = json::object();
    for (const TopLogprob& a : t.top) top[valid_utf8(a.bytes)] = a.logprob;
    tops.push_back(top);
    offsets.push_back(offset);
    offset += static_cast<int64_t>(t.bytes.size());
  }
  return {{"tokens", tokens}, {"token_logprobs", token_lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

}  // namespace ax::server
