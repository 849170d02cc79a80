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

}  // namespace ax::server
