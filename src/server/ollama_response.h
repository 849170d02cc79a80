#pragma once
// Ollama replies: the objects of /api/chat and /api/generate, sent one per line (NDJSON) while
// streaming or once when not:
//   chat:     {"model", "created_at", "message": {"role": "assistant", "content", "thinking"?,
//              "tool_calls"?: [{"function": {"name", "arguments": {...}}}]}, "done": false}
//   generate: {"model", "created_at", "response", "thinking"?, "done": false}
//   the last one: "done": true, "done_reason" ("stop", "length", "load"), and the timings in
//   nanoseconds (total_duration, load_duration, prompt_eval_duration, eval_duration) with the
//   token counts (prompt_eval_count, eval_count); generate adds "context" (the token ids of prompt
//   and reply, to continue from).
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/metrics.h"
#include "server/tool_call_parser.h"

namespace ax::server {

// RFC 3339 in UTC with nanoseconds, as Ollama writes times: "2024-05-01T12:00:00.123456789Z".
std::string ollama_time(std::chrono::system_clock::time_point t);
std::string ollama_time_now();

// One NDJSON line: compact JSON (invalid UTF-8 replaced) and "\n".
std::string ndjson_line(const nlohmann::json& j);

// Tool calls with their arguments as objects, as Ollama sends them.
nlohmann::json ollama_tool_calls_json(const std::vector<ParsedToolCall>& calls);

// What a finished request reports: done, done_reason and the counts and timings of metrics;
// total_s is the request's whole time on the server.
void add_ollama_done(nlohmann::json& j, const std::string& done_reason, const RequestMetrics& metrics, double total_s);

}  // namespace ax::server
