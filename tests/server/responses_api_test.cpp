// POST /v1/responses over real HTTP with the bundled ax-code-15m: the response object, the exact
// typed event order, function tools and their outputs, json_schema output, previous_response_id.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_helpers.h"
#include "shared_server.h"
#include "test_support.h"

namespace ax::test {
namespace {

using nlohmann::json;

class ResponsesServer : public SharedServer<ResponsesServer> {
 public:
  static std::string model() { return source_dir() + "/models/ax-code-15m"; }
  static std::vector<std::string> flags() { return {"--max-stored-responses", "2"}; }
};

const json kWeatherTool = {{"type", "function"},
                           {"name", "get_weather"},
                           {"parameters",
                            {{"type", "object"},
                             {"properties", {{"city", {{"type", "string"}, {"maxLength", 12}}}}},
                             {"required", {"city"}}}}};

// Event names in order, consecutive deltas folded into one.
std::vector<std::string> outline(const std::vector<TypedEvent>& events) {
  std::vector<std::string> out;
  for (const TypedEvent& e : events)
    if (out.empty() || out.back() != e.name || e.name.find(".delta") == std::string::npos) out.push_back(e.name);
  return out;
}

TEST_F(ResponsesServer, StreamEventOrderAndSequenceNumbersEqualBlocking) {
  auto cli = server_->client();
  json body = {{"input", "def fib(n):"}, {"instructions", "Python only."}, {"max_output_tokens", 10}, {"temperature", 0}};
  int status = 0;
  json blocking = post_json(cli, "/v1/responses", body, &status);
  ASSERT_EQ(status, 200) << blocking.dump();
  EXPECT_EQ(blocking["object"], "response");
  EXPECT_EQ(blocking["id"].get<std::string>().rfind("resp_", 0), 0u);
  EXPECT_EQ(blocking["instructions"], "Python only.");
  ASSERT_EQ(blocking["output"].size(), 1u);
  EXPECT_EQ(blocking["output"][0]["type"], "message");
  const std::string text = blocking["output"][0]["content"][0]["text"];
  EXPECT_EQ(blocking["usage"]["total_tokens"],
            blocking["usage"]["input_tokens"].get<int>() + blocking["usage"]["output_tokens"].get<int>());
  if (blocking["usage"]["output_tokens"] == 10) {
    EXPECT_EQ(blocking["status"], "incomplete");
    EXPECT_EQ(blocking["incomplete_details"]["reason"], "max_output_tokens");
  }
  body["stream"] = true;
  auto [sstatus, raw] = post_stream(cli, "/v1/responses", body);
  ASSERT_EQ(sstatus, 200);
  std::vector<TypedEvent> events = typed_events(raw);
  const std::string last = blocking["status"] == "completed" ? "response.completed" : "response.incomplete";
  EXPECT_EQ(outline(events),
            (std::vector<std::string>{"response.created", "response.in_progress", "response.output_item.added",
                                      "response.content_part.added", "response.output_text.delta",
                                      "response.output_text.done", "response.content_part.done",
                                      "response.output_item.done", last}))
      << raw;
  std::string streamed;
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].data["type"], events[i].name);
    EXPECT_EQ(events[i].data["sequence_number"], i);
    if (events[i].name == "response.output_text.delta") streamed += events[i].data["delta"].get<std::string>();
  }
  EXPECT_EQ(streamed, text);
  EXPECT_EQ(events.back().data["response"]["output"][0]["content"][0]["text"], text);
  EXPECT_EQ(events.front().data["response"]["status"], "in_progress");
}

TEST_F(ResponsesServer, FunctionCallAndItsOutput) {
  auto cli = server_->client();
  json body = {{"input", "Weather in Paris?"}, {"tools", {kWeatherTool}}, {"tool_choice", "required"},
               {"max_output_tokens", 60}, {"temperature", 0}};
  int status = 0;
  json r = post_json(cli, "/v1/responses", body, &status);
  ASSERT_EQ(status, 200) << r.dump();
  const json& call = r["output"].back();
  ASSERT_EQ(call["type"], "function_call") << r.dump();
  EXPECT_EQ(call["name"], "get_weather");
  EXPECT_TRUE(json::parse(call["arguments"].get<std::string>())["city"].is_string());
  body["stream"] = true;
  auto [sstatus, raw] = post_stream(cli, "/v1/responses", body);
  std::vector<TypedEvent> events = typed_events(raw);
  std::string args;
  for (const TypedEvent& e : events) {
    if (e.name == "response.function_call_arguments.delta") args += e.data["delta"].get<std::string>();
    if (e.name == "response.function_call_arguments.done") EXPECT_EQ(e.data["arguments"], args);
  }
  EXPECT_EQ(args, call["arguments"]) << raw;
  // The call's output goes back as an item, after the call itself.
  json follow = {{"input",
                  {{{"role", "user"}, {"content", "Weather in Paris?"}},
                   {{"type", "function_call"}, {"call_id", call["call_id"]}, {"name", "get_weather"}, {"arguments", call["arguments"]}},
                   {{"type", "function_call_output"}, {"call_id", call["call_id"]}, {"output", "18C"}}}},
                 {"tools", {kWeatherTool}},
                 {"max_output_tokens", 5}};
  json answer = post_json(cli, "/v1/responses", follow, &status);
  EXPECT_EQ(status, 200) << answer.dump();
}

TEST_F(ResponsesServer, JsonSchemaFormatIsEnforced) {
  auto cli = server_->client();
  json schema = {{"type", "object"}, {"properties", {{"n", {{"type", "integer"}}}}}, {"required", {"n"}},
                 {"additionalProperties", false}};
  int status = 0;
  json r = post_json(cli, "/v1/responses",
                     {{"input", "A number"}, {"max_output_tokens", 40}, {"temperature", 0},
                      {"text", {{"format", {{"type", "json_schema"}, {"name", "num"}, {"schema", schema}}}}}},
                     &status);
  ASSERT_EQ(status, 200) << r.dump();
  json out = json::parse(r["output"][0]["content"][0]["text"].get<std::string>());
  EXPECT_TRUE(out["n"].is_number_integer()) << out.dump();
  EXPECT_EQ(r["text"]["format"]["type"], "json_schema");
}

TEST_F(ResponsesServer, PreviousResponseIdContinuesWithinTheBound) {
  auto cli = server_->client();
  int status = 0;
  json first = post_json(cli, "/v1/responses", {{"input", "import os"}, {"max_output_tokens", 4}}, &status);
  ASSERT_EQ(status, 200);
  json second = post_json(cli, "/v1/responses",
                          {{"input", "import sys"}, {"max_output_tokens", 4}, {"previous_response_id", first["id"]}}, &status);
  ASSERT_EQ(status, 200) << second.dump();
  EXPECT_EQ(second["previous_response_id"], first["id"]);
  // The follow-up's prompt holds the first exchange.
  EXPECT_GT(second["usage"]["input_tokens"].get<int>(),
            first["usage"]["input_tokens"].get<int>() + first["usage"]["output_tokens"].get<int>());
  auto got = cli.Get(("/v1/responses/" + second["id"].get<std::string>()).c_str());
  ASSERT_TRUE(got);
  EXPECT_EQ(json::parse(got->body)["id"], second["id"]);
  // store: false keeps nothing; past --max-stored-responses 2 the oldest is gone.
  json unstored = post_json(cli, "/v1/responses", {{"input", "x"}, {"max_output_tokens", 1}, {"store", false}});
  EXPECT_EQ(cli.Get(("/v1/responses/" + unstored["id"].get<std::string>()).c_str())->status, 404);
  post_json(cli, "/v1/responses", {{"input", "y"}, {"max_output_tokens", 1}});
  json e = post_json(cli, "/v1/responses", {{"input", "z"}, {"previous_response_id", first["id"]}}, &status);
  EXPECT_EQ(status, 404);
  EXPECT_EQ(e["error"]["code"], "previous_response_not_found");
  EXPECT_EQ(e["error"]["param"], "previous_response_id");
}

}  // namespace
}  // namespace ax::test
