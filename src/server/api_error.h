#pragma once
// Errors as the OpenAI API shapes them: {"error": {"message", "type", "param", "code"}} with an
// HTTP status. Request parsing throws ApiError; the HTTP layer turns it into the response, so no
// handler ever writes an error body by hand.
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include <fmt/core.h>

namespace ax::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string type, std::string param = {},
           std::string code = {})
      : std::runtime_error(message), status_(status), type_(std::move(type)),
        param_(std::move(param)), code_(std::move(code)) {}

  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }

  // {"error": {...}}; param and code are null when empty, as OpenAI sends them.
  nlohmann::json to_json() const;
  // Anthropic's shape: {"type": "error", "error": {"type": <by status>, "message"}}.
  nlohmann::json to_anthropic_json() const;
  // Ollama's shape: {"error": "<message>"}.
  nlohmann::json to_ollama_json() const { return {{"error", what()}}; }

  // Seconds a client should wait before retrying (the Retry-After header of a 429/503); 0: none.
  int retry_after_s() const { return retry_after_s_; }
  ApiError& with_retry_after(int seconds) {
    retry_after_s_ = seconds;
    return *this;
  }

 private:
  int status_;
  std::string type_, param_, code_;
  int retry_after_s_ = 0;
};

// 400 invalid_request_error naming the parameter: bad_param("temperature", "must be in [0, 2], got {}", t)
template <typename... Args>
[[noreturn]] void bad_param(const std::string& param, fmt::format_string<Args...> f, Args&&... args) {
  throw ApiError(400, fmt::format("'{}' {}", param, fmt::format(f, std::forward<Args>(args)...)),
                 "invalid_request_error", param, "invalid_value");
}

}  // namespace ax::server
