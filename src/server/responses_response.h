#pragma once
// OpenAI Responses replies: the response object and its typed stream. Each output block
// (output_blocks.h) is an output item: a thought is a "reasoning" item, text a "message" item with
// one output_text part, a tool call a "function_call" item. The stream is
//   response.created, response.in_progress,
//   per item: response.output_item.added,
//     message:  response.content_part.added, response.output_text.delta..., response.output_text.done,
//               response.content_part.done
//     reasoning: response.content_part.added, response.reasoning_text.delta..., response.reasoning_text.done,
//               response.content_part.done
//     function_call: response.function_call_arguments.delta, response.function_call_arguments.done
//   response.output_item.done; then response.completed (or response.incomplete when
//   max_output_tokens cut it), every event with its sequence_number.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/api_error.h"
#include "server/output_blocks.h"

namespace ax::server {

struct ResponseUsage {
  int64_t input_tokens = 0;
  int64_t cached_tokens = 0;
  int64_t output_tokens = 0;
  int64_t reasoning_tokens = 0;
};

class ResponseWriter : public BlockSink {
 public:
  // echo: the request's settings the object repeats (responses_request.h).
  ResponseWriter(std::string id, std::string model, nlohmann::json echo, std::string previous_response_id, bool store,
                 bool streaming);

  // Events written so far (streaming); the route takes them.
  std::string take_events();

  void open(size_t index, const OutputBlock& block) override;
  void append(size_t index, const OutputBlock& block, const std::string& text) override;
  void close(size_t index, const OutputBlock& block) override;

  std::string start_events();  // response.created, response.in_progress
  // The end: length says max_output_tokens cut the output. Returns the final event
  // (response.completed / response.incomplete).
  std::string finish(const OutputBlocks& blocks, bool length, const ResponseUsage& usage);
  std::string error_event(const ApiError& e);

  // The response object; status "in_progress" until finish().
  nlohmann::json response() const;

 private:
  void event(const std::string& type, nlohmann::json data);
  nlohmann::json item(size_t index, const OutputBlock& block, bool done) const;
  const std::string& item_id(size_t index, const OutputBlock& block);

  std::string id_, model_, previous_response_id_;
  nlohmann::json echo_;
  bool store_, streaming_;
  int64_t created_at_;
  int64_t sequence_ = 0;
  std::string events_;
  std::vector<std::string> item_ids_;  // by output index
  std::string status_ = "in_progress";
  nlohmann::json output_ = nlohmann::json::array();
  nlohmann::json usage_ = nullptr;
  nlohmann::json incomplete_details_ = nullptr;
  nlohmann::json error_ = nullptr;
};

}  // namespace ax::server
