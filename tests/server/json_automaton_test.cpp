// The JSON automaton and the token mask: valid documents are accepted byte by byte, invalid ones
// rejected at the first bad byte, and random walks through the token mask always end in JSON that
// matches the schema (checked by an independent validator written here).
#include <gtest/gtest.h>

#include <random>

#include "server/api_error.h"
#include "server/json_automaton.h"
#include "server/json_schema.h"
#include "server/token_mask.h"
#include "server/tool_call_parser.h"
#include "server/tool_call_schema.h"
#include "schema_support.h"

namespace ax::server {
namespace {

using nlohmann::json;

using test::accepts;

// Independent check of the supported keywords against a parsed document.
bool matches(const json& v, const json& schema, const json& root) {
  if (schema.is_boolean()) return schema.get<bool>();
  if (schema.contains("$ref")) return matches(v, root.at(json::json_pointer(schema["$ref"].get<std::string>().substr(1))), root);
  if (schema.contains("const")) return v == schema["const"];
  if (schema.contains("enum")) {
    for (auto& e : schema["enum"]) if (v == e) return true;
    return false;
  }
  for (const char* c : {"anyOf", "oneOf"})
    if (schema.contains(c)) {
      for (auto& alt : schema[c]) if (matches(v, alt, root)) return true;
      return false;
    }
  if (schema.contains("type")) {
    std::vector<std::string> types;
    if (schema["type"].is_string()) types.push_back(schema["type"]);
    else for (auto& t : schema["type"]) types.push_back(t);
    bool ok = false;
    for (auto& t : types) {
      ok |= (t == "object" && v.is_object()) || (t == "array" && v.is_array()) ||
            (t == "string" && v.is_string()) || (t == "number" && v.is_number()) ||
            (t == "integer" && v.is_number_integer()) || (t == "boolean" && v.is_boolean()) ||
            (t == "null" && v.is_null());
    }
    if (!ok) return false;
  }
  if (v.is_object()) {
    if (schema.contains("properties")) {
      for (auto& [k, sub] : v.items()) {
        if (!schema["properties"].contains(k)) return false;
        if (!matches(sub, schema["properties"][k], root)) return false;
      }
    } else if (schema.contains("additionalProperties")) {
      for (auto& [k, sub] : v.items())
        if (!matches(sub, schema["additionalProperties"], root)) return false;
    }
    if (schema.contains("required"))
      for (auto& r : schema["required"]) if (!v.contains(r.get<std::string>())) return false;
  }
  if (v.is_array()) {
    if (schema.contains("minItems") && v.size() < schema["minItems"].get<size_t>()) return false;
    if (schema.contains("maxItems") && v.size() > schema["maxItems"].get<size_t>()) return false;
    if (schema.contains("items"))
      for (auto& x : v) if (!matches(x, schema["items"], root)) return false;
  }
  if (v.is_string()) {
    // Lengths in code points.
    size_t n = 0;
    for (unsigned char c : v.get<std::string>()) n += (c & 0xC0) != 0x80;
    if (schema.contains("minLength") && n < schema["minLength"].get<size_t>()) return false;
    if (schema.contains("maxLength") && n > schema["maxLength"].get<size_t>()) return false;
  }
  return true;
}

const json kPersonSchema = json::parse(R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "maxLength": 6},
    "age": {"type": "integer"},
    "score": {"type": "number"},
    "tags": {"type": "array", "items": {"enum": ["a", "b", 3, null]}, "maxItems": 3},
    "kind": {"anyOf": [{"type": "boolean"}, {"type": "object", "properties": {"x": {"type": "null"}}, "required": ["x"]}]},
    "note": {"type": ["string", "null"], "minLength": 1, "maxLength": 3},
    "child": {"$ref": "#/$defs/node"}
  },
  "required": ["name", "age"],
  "$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}, "v": {"const": 1}}}}
})");

TEST(JsonAutomaton, AcceptsValidDocumentsWithWhitespace) {
  CompiledSchema s = compile_json_schema(kPersonSchema, "schema");
  for (const char* doc : {
           R"({"name":"bob","age":3})",
           R"( { "age" : -0 , "name" : "" })",
           R"({"name":"\u00e9\n","age":12,"score":-1.5e+3,"tags":["a",3,null]})",
           R"({"name":"héllo","age":1,"kind":{"x":null},"note":null})",
           R"({"name":"\ud83d\ude00x","age":1})",  // a surrogate pair
           R"({"name":"a","age":1,"kind":false,"note":"abc","child":{"next":{"v":1},"v":1}})",
       })
    EXPECT_TRUE(accepts(s, doc)) << doc;
}

TEST(JsonAutomaton, RejectsInvalidDocuments) {
  CompiledSchema s = compile_json_schema(kPersonSchema, "schema");
  for (const char* doc : {
           R"({"name":"bob"})",                     // missing required
           R"({"name":"bob","age":3,})",            // trailing comma
           R"({"name":"bob","age":03})",            // leading zero
           R"({"name":"bob","age":3.5})",           // integer
           R"({"name":"bobbybob","age":3})",        // maxLength
           R"({"name":"bob","age":3,"zzz":1})",     // undeclared key
           R"({"name":"bob","name":"x","age":3})",  // duplicate key
           R"({"name":"b\x","age":3})",             // bad escape
           R"({"name":"\ud83d","age":3})",         // high surrogate alone
           R"({"name":"\ude00","age":3})",         // low surrogate alone
           R"({"name":"\ud83d\u0041","age":3})",  // high surrogate, then no low one
           "{\"name\":\"b\x01\",\"age\":3}",        // control character
           "{\"name\":\"\xC3\",\"age\":3}",         // broken UTF-8
           "{\"name\":\"\xED\xA0\x80\",\"age\":3}", // surrogate in UTF-8
           R"({"name":"b","age":1,"tags":["c"]})",  // enum
           R"({"name":"b","age":1,"tags":["a","a","a","a"]})",  // maxItems
           R"({"name":"b","age":1,"note":""})",     // minLength
           R"({"name":"b","age":1,"kind":{}})",     // anyOf: neither
           R"({"name":"b","age":1} x)",             // trailing garbage
           R"([1])",
       })
    EXPECT_FALSE(accepts(s, doc)) << doc;
}

TEST(JsonAutomaton, JsonObjectModeTakesAnyObject) {
  CompiledSchema s = any_json_object_schema();
  EXPECT_TRUE(accepts(s, R"({"a":[1,2,{"b":null}],"c":"d","e":true,"f":-0.5})"));
  EXPECT_TRUE(accepts(s, "{}"));
  EXPECT_FALSE(accepts(s, "[]"));
  EXPECT_FALSE(accepts(s, "{\"a\":tru}"));
  JsonAutomaton a(s);
  EXPECT_TRUE(a.feed(std::string_view("{\"a\":1")));
  EXPECT_FALSE(a.can_end());
  EXPECT_TRUE(a.feed('}'));
  EXPECT_TRUE(a.must_end());
}

TEST(JsonAutomaton, NumberAtRootEndsAtEnd) {
  CompiledSchema s = compile_json_schema(json{{"type", "number"}}, "schema");
  JsonAutomaton a(s);
  EXPECT_TRUE(a.feed(std::string_view("12")));
  EXPECT_TRUE(a.can_end());
  EXPECT_FALSE(a.must_end());
  EXPECT_TRUE(a.feed(std::string_view(".5")));
  EXPECT_TRUE(a.can_end());
  EXPECT_TRUE(a.feed('e'));
  EXPECT_FALSE(a.can_end());
}

TEST(JsonAutomaton, WhitespaceRunsAreBounded) {
  CompiledSchema s = any_json_object_schema();
  JsonAutomaton a(s);
  EXPECT_TRUE(a.feed('{'));
  for (int i = 0; i < JsonAutomaton::kMaxWhitespace; ++i) EXPECT_TRUE(a.feed(' '));
  EXPECT_FALSE(a.feed(' '));
  EXPECT_TRUE(a.feed('}'));
}

TEST(TokenMask, TrieMaskEqualsTokenByTokenCheck) {
  uint32_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  std::vector<std::string> vocab = test::random_vocab(rng);
  std::vector<bool> excluded(vocab.size());
  excluded[7] = true;  // a "special" token never matches
  TokenTrie trie(vocab, excluded);
  CompiledSchema s = compile_json_schema(kPersonSchema, "schema");
  const std::string doc = R"({"name":"héllo","age":12,"tags":["a",3],"kind":{"x":null},"child":{"next":{}}})";
  JsonAutomaton state(s);
  std::vector<uint8_t> allowed;
  for (size_t cut = 0; cut <= doc.size(); ++cut) {
    trie.allowed_tokens(state, allowed);
    for (size_t id = 0; id < vocab.size(); ++id) {
      JsonAutomaton probe = state;
      bool want = !excluded[id] && !vocab[id].empty() && probe.feed(vocab[id]);
      ASSERT_EQ(allowed[id] != 0, want) << "prefix '" << doc.substr(0, cut) << "' token '" << vocab[id] << "'";
    }
    if (cut < doc.size()) {
      ASSERT_TRUE(state.feed(static_cast<uint8_t>(doc[cut]))) << cut;
    }
  }
  EXPECT_TRUE(state.must_end());
}

// Sample tokens uniformly among the allowed ones (like a model with flat logits) and check the
// finished text against the schema.
TEST(TokenMask, RandomWalksEndInMatchingJson) {
  uint32_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  const std::vector<std::string> vocab = test::random_vocab(rng);
  const json schemas[] = {
      kPersonSchema,
      json::parse(R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":4})"),
      json::parse(R"({"type":"object","properties":{"ok":{"type":"boolean"},"why":{"type":"string","maxLength":4}},"required":["ok","why"]})"),
      json::parse(R"({"enum":["red","green",12,12.5]})"),
  };
  int finished = 0;
  for (const json& schema : schemas) {
    auto compiled = std::make_shared<CompiledSchema>(compile_json_schema(schema, "schema"));
    for (int walk = 0; walk < 20; ++walk) {
      std::optional<std::string> text = test::mask_walk(compiled, vocab, rng);
      if (!text) continue;
      ++finished;
      json parsed = json::parse(*text, nullptr, false);
      ASSERT_FALSE(parsed.is_discarded()) << *text;
      EXPECT_TRUE(matches(parsed, schema, schema)) << *text << "\nschema " << schema.dump();
    }
  }
  EXPECT_GT(finished, 10);
}

}  // namespace
}  // namespace ax::server

namespace ax::server {
namespace {

// tool_choice "required": random walks produce exactly one parsable call to a declared tool whose
// arguments match that tool's parameters.
TEST(TokenMask, ToolCallGrammarWalksParseAsCalls) {
  uint32_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  const std::vector<std::string> vocab = test::random_vocab(rng, {"<tool_call>", "</tool_call>"});
  std::vector<ToolSpec> tools(2);
  tools[0].name = "get_weather";
  tools[0].parameters = json::parse(R"({"type":"object","properties":{"city":{"type":"string","maxLength":5}},"required":["city"]})");
  tools[1].name = "now";
  tools[1].parameters = json::parse(R"({"type":"object","properties":{}})");
  for (ToolChoice::Mode mode : {ToolChoice::Mode::Required, ToolChoice::Mode::Named}) {
    ToolChoice choice{mode, "get_weather"};
    auto compiled = std::make_shared<CompiledSchema>(compile_tool_call_schema(tools, choice));
    int finished = 0;
    for (int walk = 0; walk < 15; ++walk) {
      std::optional<std::string> walked = test::mask_walk(compiled, vocab, rng, 300);
      if (!walked) continue;
      const std::string& text = *walked;
      ++finished;
      ToolCallParser parser;
      ToolParseOutput out = parser.push(text);
      ToolParseOutput rest = parser.finish();
      EXPECT_EQ(out.content + rest.content, "") << text;
      ASSERT_EQ(out.calls.size(), 1u) << text;
      const ParsedToolCall& call = out.calls[0];
      if (mode == ToolChoice::Mode::Named) {
        EXPECT_EQ(call.name, "get_weather");
      }
      json args = json::parse(call.arguments);
      const json& params = call.name == "get_weather" ? tools[0].parameters : tools[1].parameters;
      EXPECT_TRUE(matches(args, params, params)) << text;
    }
    EXPECT_GT(finished, 3);
  }
}

}  // namespace
}  // namespace ax::server

namespace ax::server {
namespace {

// States with equal keys accept exactly the same next bytes (checked over every byte value and a
// few bytes deep), and the states inside one unbounded string share a key.
TEST(JsonAutomaton, EqualStateKeysHaveEqualFutures) {
  CompiledSchema s = compile_json_schema(kPersonSchema, "schema");
  JsonAutomaton a(s), b(s);
  ASSERT_TRUE(a.feed(std::string_view(R"({"age":1,"child":{"next":{},"v":1},"tags":["a"],"kind":{"x":null},"note":"ab)")));
  ASSERT_TRUE(b.feed(std::string_view(R"({"age":1,"child":{"next":{},"v":1},"tags":["a"],"kind":{"x":null},"note":"ac)")));
  EXPECT_EQ(a.state_key(), b.state_key());
  CompiledSchema any = any_json_object_schema();
  JsonAutomaton c(any), d(any);
  ASSERT_TRUE(c.feed(std::string_view(R"({"k":"short)")));
  ASSERT_TRUE(d.feed(std::string_view(R"({"k":"a much longer string with \" escapes \u00e9 and é)")));
  EXPECT_EQ(c.state_key(), d.state_key());
  std::mt19937 rng(std::random_device{}());
  for (int trial = 0; trial < 200; ++trial) {
    JsonAutomaton x = c, y = d;
    for (int depth = 0; depth < 4; ++depth) {
      for (int byte = 0; byte < 256; ++byte) {
        JsonAutomaton xx = x, yy = y;
        ASSERT_EQ(xx.feed(static_cast<uint8_t>(byte)), yy.feed(static_cast<uint8_t>(byte))) << byte;
      }
      const std::string next = "ab\"},: 1]e\\n{";
      uint8_t pick = static_cast<uint8_t>(next[rng() % next.size()]);
      bool ok = x.feed(pick);
      ASSERT_EQ(ok, y.feed(pick));
      if (!ok) break;
      ASSERT_EQ(x.can_end(), y.can_end());
    }
  }
  // A bounded string's count matters: different keys.
  JsonAutomaton e(s), f(s);
  ASSERT_TRUE(e.feed(std::string_view(R"({"name":"ab)")));
  ASSERT_TRUE(f.feed(std::string_view(R"({"name":"abc)")));
  EXPECT_NE(e.state_key(), f.state_key());
}

}  // namespace
}  // namespace ax::server
