#include "server/ollama_response.h"

#include <ctime>

#include <fmt/core.h>

#include "server/openai_response.h"

namespace ax::server {

using nlohmann::json;

std::string ollama_time(std::chrono::system_clock::time_point t) {
  const auto since_epoch = t.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds).count();
  const std::time_t tt = static_cast<std::time_t>(seconds.count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, nanos);
}

std::string ollama_time_now() { return ollama_time(std::chrono::system_clock::now()); }

std::string ndjson_line(const json& j) { return dump_json(j) + "\n"; }

json ollama_tool_calls_json(const std::vector<ParsedToolCall>& calls) {
  json out = json::array();
  for (const ParsedToolCall& c : calls) {
    json arguments = json::parse(c.arguments, nullptr, /*allow_exceptions=*/false);
    if (!arguments.is_object()) arguments = json::object();
    out.push_back({{"function", {{"name", c.name}, {"arguments", std::move(arguments)}}}});
  }
  return out;
}

void add_ollama_done(json& j, const std::string& done_reason, const RequestMetrics& m, double total_s) {
  auto ns = [](double s) { return static_cast<int64_t>(s > 0 ? s * 1e9 : 0); };
  j["done"] = true;
  j["done_reason"] = done_reason;
  j["total_duration"] = ns(total_s);
  j["load_duration"] = 0;  // the model was loaded when the request came
  j["prompt_eval_count"] = m.prompt_tokens;
  j["prompt_eval_duration"] = ns(m.ttft_s - m.queue_s);  // scheduled -> first token: the prefill
  j["eval_count"] = m.completion_tokens;
  j["eval_duration"] = ns(m.total_s - m.ttft_s);
}

}  // namespace ax::server
