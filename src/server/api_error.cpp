#include "server/api_error.h"

namespace ax::server {

nlohmann::json ApiError::to_json() const {
  nlohmann::json e;
  e["message"] = what();
  e["type"] = type_;
  e["param"] = param_.empty() ? nlohmann::json(nullptr) : nlohmann::json(param_);
  e["code"] = code_.empty() ? nlohmann::json(nullptr) : nlohmann::json(code_);
  return {{"error", e}};
}

nlohmann::json ApiError::to_anthropic_json() const {
  // Anthropic names its errors by kind where OpenAI has type + code.
  const char* type = "api_error";
  switch (status_) {
    case 400: type = "invalid_request_error"; break;
    case 401: type = "authentication_error"; break;
    case 403: type = "permission_error"; break;
    case 404: type = "not_found_error"; break;
    case 413: type = "request_too_large"; break;
    case 429: type = "rate_limit_error"; break;
    case 503: case 529: type = "overloaded_error"; break;
    default: type = status_ < 500 ? "invalid_request_error" : "api_error";
  }
  return {{"type", "error"}, {"error", {{"type", type}, {"message", what()}}}};
}

}  // namespace ax::server
