#pragma once
// Reading fields of a request body with validation: each wrong value is an ApiError (400) naming
// the parameter, as every API route reports it ("'max_tokens' must be an integer, got string").
#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace ax::server {

// A field counts as given when present and not null (clients send null for "default").
const nlohmann::json* field(const nlohmann::json& obj, const char* key);
std::string type_name(const nlohmann::json& v);

double get_number(const nlohmann::json& v, const std::string& param, double lo, double hi);
// Integral floats (3.0) count as integers, as JavaScript clients send them.
int64_t get_int(const nlohmann::json& v, const std::string& param, int64_t lo, int64_t hi);
bool get_bool(const nlohmann::json& v, const std::string& param);
std::string get_string(const nlohmann::json& v, const std::string& param);
// An object field: v must be a JSON object.
const nlohmann::json& get_object(const nlohmann::json& v, const std::string& param);
const nlohmann::json& get_array(const nlohmann::json& v, const std::string& param);

// Walks an array of typed parts or blocks ([{"type": ..., ...}]): each must be an object with a
// string "type"; f gets the type, the part and its param ("messages[0].content[2]").
void for_each_typed_part(const nlohmann::json& v, const std::string& param,
                         const std::function<void(const std::string& type, const nlohmann::json& part,
                                                  const std::string& part_param)>& f);
// A required string field of a part: part[key], named part_param.key in errors.
std::string required_string(const nlohmann::json& part, const char* key, const std::string& part_param);

// A function tool in OpenAI chat shape, {"type": "function", "function": {name, description,
// parameters}}, from a tool object whose name and description sit at its top level and whose
// schema is under schema_key (Anthropic's input_schema, the Responses API's parameters).
// raw_tool: the same tool with key order kept (the schema reaches the template as written).
nlohmann::ordered_json function_tool(const nlohmann::json& tool, const nlohmann::ordered_json& raw_tool,
                                     const char* schema_key, bool schema_required, const std::string& param);

}  // namespace ax::server
