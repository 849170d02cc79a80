// The schema compiler: what it accepts, what it refuses (a 400 naming the field), and that every
// schema it accepts gives an automaton whose expansion is finite.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <random>

#include "server/api_error.h"
#include "server/json_automaton.h"
#include "server/json_schema.h"
#include "schema_support.h"
#include "schema_validator.h"

namespace ax::server {
namespace {

using nlohmann::json;

// The param of the 400 compile_json_schema throws, or "<accepted>".
std::string rejected_param(const json& schema) {
  try {
    compile_json_schema(schema, "response_format.json_schema.schema");
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    return e.param();
  }
  return "<accepted>";
}

using test::accepts;

TEST(JsonSchemaCompile, UnsupportedKeywordsNameThemselves) {
  const std::string root = "response_format.json_schema.schema";
  EXPECT_EQ(rejected_param({{"type", "string"}, {"pattern", "a(?=b)"}}), root + ".pattern");
  EXPECT_EQ(rejected_param({{"type", "string"}, {"pattern", "(a)\\1"}}), root + ".pattern");
  EXPECT_EQ(rejected_param({{"type", "string"}, {"format", "duration"}}), root + ".format");
  EXPECT_EQ(rejected_param({{"type", "integer"}, {"format", "email"}}), root + ".format");
  EXPECT_EQ(rejected_param({{"type", "object"}, {"properties", {{"n", {{"not", {{"type", "null"}}}}}}}}),
            root + ".properties.n.not");
  EXPECT_EQ(rejected_param({{"type", "object"}, {"patternProperties", {{"^a", true}}}}), root + ".patternProperties");
  EXPECT_EQ(rejected_param({{"type", "array"}, {"uniqueItems", true}}), root + ".uniqueItems");
  EXPECT_EQ(rejected_param({{"if", {{"type", "string"}}}}), root + ".if");
  EXPECT_EQ(rejected_param({{"$ref", "http://x"}}), root + ".$ref");
  EXPECT_EQ(rejected_param({{"type", "tuple"}}), root + ".type");
  EXPECT_EQ(rejected_param({{"type", "number"}, {"multipleOf", 0.0000000000000001}}), root + ".multipleOf");
  EXPECT_EQ(rejected_param(json(false)), root);
  EXPECT_EQ(rejected_param({{"type", "object"}, {"title", "ok"}, {"description", "ok"}, {"x-vendor", 1}}), "<accepted>");
}

// A $ref cycle that reads no input (through $ref, anyOf or oneOf alone) has no finite expansion:
// it used to send the automaton into unbounded recursion (a segfault). Now it is a 400 naming the
// $ref on the cycle.
TEST(JsonSchemaCompile, RecursionWithoutInputIsRejected) {
  EXPECT_EQ(rejected_param(json::parse(R"({"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/a"}}})")),
            "response_format.json_schema.schema.$defs.a.$ref");
  EXPECT_EQ(rejected_param(json::parse(R"({"anyOf":[{"$ref":"#/$defs/a"},{"type":"string"}],"$defs":{"a":{"$ref":"#"}}})")),
            "response_format.json_schema.schema.anyOf[0].$ref");
  EXPECT_EQ(rejected_param(json::parse(R"({"oneOf":[{"type":"null"},{"$ref":"#"}]})")),
            "response_format.json_schema.schema.oneOf[1].$ref");
  EXPECT_EQ(rejected_param(json::parse(R"({"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/b"},"b":{"anyOf":[{"$ref":"#/$defs/a"}]}}})")),
            "response_format.json_schema.schema.$defs.b.anyOf[0].$ref");
}

// Recursion that reads input (through an object or an array) stays allowed.
TEST(JsonSchemaCompile, RecursionThroughObjectsAndArraysIsAllowed) {
  const json tree = json::parse(R"({"$ref":"#/$defs/node","$defs":{"node":{"anyOf":[{"type":"integer"},
      {"type":"array","items":{"$ref":"#/$defs/node"}},
      {"type":"object","properties":{"left":{"$ref":"#/$defs/node"}}}]}}})");
  CompiledSchema s = compile_json_schema(tree, "schema");
  EXPECT_TRUE(accepts(s, "[1,[2,[]],{\"left\":{\"left\":3}}]"));
  EXPECT_FALSE(accepts(s, "[1,\"x\"]"));
  CompiledSchema self = compile_json_schema(json::parse(R"({"anyOf":[{"type":"string"},{"type":"array","items":{"$ref":"#"}}]})"), "schema");
  EXPECT_TRUE(accepts(self, "[[\"a\"],\"b\",[]]"));
}

// Alternatives nested 2^k ways (each level names the one below twice) expand once per distinct
// leaf: feeding a document takes microseconds, not 2^k stack copies.
TEST(JsonSchemaCompile, NestedAlternativesExpandOnce) {
  json defs = {{"a0", {{"type", "string"}}}};
  const int levels = 24;
  for (int k = 1; k <= levels; ++k) {
    std::string below = "#/$defs/a" + std::to_string(k - 1);
    defs["a" + std::to_string(k)] = {{"anyOf", json::array({{{"$ref", below}}, {{"$ref", below}}})}};
  }
  json schema = {{"$ref", "#/$defs/a" + std::to_string(levels)}, {"$defs", defs}};
  CompiledSchema s = compile_json_schema(schema, "schema");
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(accepts(s, "\"abc\""));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 0.5);
}

// A schema nested deeper than the compiler's limit is a 400, never a stack overflow.
TEST(JsonSchemaCompile, DeepSchemaNestingIsRejected) {
  json s = {{"type", "string"}};
  for (int i = 0; i < 100000; ++i) s = json{{"anyOf", json::array({std::move(s)})}};
  EXPECT_NE(rejected_param(s), "<accepted>");
}

}  // namespace
}  // namespace ax::server

namespace ax::server {
namespace {

using test::validate;

// Documents each keyword must take and refuse, byte by byte through the automaton.
struct Case {
  const char* schema;
  std::vector<const char*> good, bad;
};

void check_cases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.schema);
    const json schema = json::parse(c.schema);
    CompiledSchema s = compile_json_schema(schema, "schema");
    for (const char* doc : c.good) {
      EXPECT_TRUE(accepts(s, doc)) << "should accept " << doc;
      EXPECT_TRUE(validate(json::parse(doc), schema, schema)) << "oracle disagrees on " << doc;
    }
    for (const char* doc : c.bad) EXPECT_FALSE(accepts(s, doc)) << "should refuse " << doc;
  }
}

TEST(JsonSchemaKeywords, NumericBounds) {
  check_cases({
      {R"({"type":"integer","minimum":1,"maximum":100})", {"1", "100", "42"}, {"0", "101", "-1", "1000", "1.5", "1e2"}},
      {R"({"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":10})", {"1", "9"}, {"0", "10", "-3"}},
      {R"({"type":"integer","minimum":0,"exclusiveMinimum":true,"maximum":3})", {"1", "3"}, {"0"}},  // draft 4
      {R"({"type":"number","minimum":-0.5,"maximum":0.25})", {"-0.5", "0", "0.25", "-0.125", "0.2499"}, {"-0.51", "0.26", "1", "-1"}},
      {R"({"type":"number","exclusiveMinimum":0.1})", {"0.1000001", "5"}, {"0.1", "0.09", "0", "-2"}},
      {R"({"type":"integer","multipleOf":7,"minimum":10,"maximum":30})", {"14", "21", "28"}, {"7", "35", "15", "0"}},
      {R"({"type":"number","multipleOf":0.25})", {"0.5", "-1.75", "3", "0.250"}, {"0.3", "0.125", "1.1"}},
      {R"({"type":"integer","multipleOf":0.5})", {"3", "-4"}, {"3.5"}},
      {R"({"type":"integer","format":"int32"})", {"2147483647", "-2147483648"}, {"2147483648", "-2147483649"}},
      {R"({"type":"integer","minimum":-9007199254740991,"maximum":9007199254740991})", {"0", "-17"}, {"1.0"}},  // Zod .safe()
      {R"({"type":"integer","minimum":100000000000000})", {"100000000000000", "999999999999999"}, {"99999999999999", "-1"}},
  });
}

// Every prefix of an integer, over a range and a multiple, is allowed exactly when some integer
// in the range (of at most 15 digits) starts with it: checked against brute force.
TEST(JsonSchemaKeywords, IntegerPrefixesMatchBruteForce) {
  std::mt19937 rng(std::random_device{}());
  for (int trial = 0; trial < 20; ++trial) {
    const int lo = static_cast<int>(rng() % 400) - 200, hi = lo + static_cast<int>(rng() % 300);
    const int mult = 1 + static_cast<int>(rng() % 9);
    const json schema = {{"type", "integer"}, {"minimum", lo}, {"maximum", hi}, {"multipleOf", mult}};
    SCOPED_TRACE(schema.dump());
    std::vector<std::string> members;
    for (int x = lo; x <= hi; ++x)
      if (x % mult == 0) members.push_back(std::to_string(x));
    if (members.empty()) {
      EXPECT_THROW(compile_json_schema(schema, "schema"), ApiError);  // no value at all: a 400
      continue;
    }
    if (lo <= 0 && hi >= 0) members.push_back("-0");  // JSON's negative zero is 0
    CompiledSchema s = compile_json_schema(schema, "schema");
    const std::string alphabet = "-0123456789";
    for (int len = 1; len <= 4; ++len)
      for (int code = 0; code < static_cast<int>(std::pow(alphabet.size(), len)); ++code) {
        std::string prefix;
        for (int c = code, i = 0; i < len; ++i, c /= static_cast<int>(alphabet.size())) prefix += alphabet[c % alphabet.size()];
        bool reachable = false, member = false;
        for (const auto& m : members) {
          reachable |= m.rfind(prefix, 0) == 0;
          member |= m == prefix;
        }
        JsonAutomaton a(s);
        ASSERT_EQ(a.feed(prefix), reachable) << prefix;
        if (reachable) {
          ASSERT_EQ(a.can_end(), member) << prefix;
        }
      }
  }
}

TEST(JsonSchemaKeywords, StringsPatternsAndFormats) {
  check_cases({
      {R"({"type":"string","minLength":2,"maxLength":3})", {R"("ab")", R"("abc")", R"("éé")"}, {R"("a")", R"("abcd")"}},
      {R"({"type":"string","pattern":"^[A-Z]{2}-\\d+$"})", {R"("AB-1")", R"("XY-123")"}, {R"("ab-1")", R"("AB-")", R"("AB-1x")", R"("\u0041B-1")"}},
      {R"({"type":"string","pattern":"cat"})", {R"("cat")", R"("concatenate")"}, {R"("ca")", R"("dog")"}},
      {R"({"type":"string","pattern":"^a\\nb$"})", {R"("a\nb")"}, {R"("ab")"}},
      {R"({"type":"string","pattern":"^\\w+$","minLength":2,"maxLength":4})", {R"("ab")", R"("a_1b")"}, {R"("a")", R"("abcde")", R"("a b")"}},
      {R"({"type":"string","pattern":"^(ab)+$","maxLength":5})", {R"("ab")", R"("abab")"}, {R"("ababab")", R"("aba")"}},
      {R"({"type":"string","pattern":"^[^\\s]+$"})", {R"("héllo")"}, {R"("a b")", R"("")"}},
  });
  // Formats: examples (the oracle does not check formats).
  struct FormatCase {
    const char* format;
    std::vector<const char*> good, bad;
  };
  const std::vector<FormatCase> formats = {
      // Formats write what Zod, Pydantic and ajv all accept: UTC date-times, real dates (no Feb 29).
      {"date-time", {"2024-02-28T13:45:00Z", "2024-12-31T23:59:59.123Z"},
       {"2024-13-01T00:00:00Z", "2024-01-01 00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T00:00:00",
        "2024-01-01T00:00:00+01:00", "2024-02-30T00:00:00Z", "2024-01-01t00:00:00Z"}},
      {"date", {"1999-01-31", "2000-04-30"}, {"1999-1-31", "1999-01-32", "1999-04-31", "2024-02-29"}},
      {"time", {"08:30:00Z", "23:59:59.5Z"}, {"8:30:00Z", "08:30", "08:30:00+01:00", "08:30:60Z"}},
      {"email", {"a.b+c@example.com", "x@y.io", "first_last-1@sub.example.org"},
       {"a@b", "@x.com", "a b@x.com", "a@-x.com", "a@b.c1", ".a@b.com", "a..b@b.com", "a!b@x.com"}},
      {"uuid", {"123e4567-e89b-12d3-a456-426614174000"}, {"123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400g"}},
      {"ipv4", {"192.168.0.1", "0.0.0.0", "255.255.255.255"}, {"256.1.1.1", "1.2.3", "01.2.3.4"}},
      {"ipv6", {"::1", "2001:db8::ff00:42:8329", "fe80:0:0:0:0:0:0:1", "::"}, {"2001:db8:::1", "12345::", "1:2:3:4:5:6:7:8:9"}},
      {"uri", {"https://example.com/a?b=c#d", "urn:isbn:0451450523", "mailto:a@b.c"}, {"example.com", "http://a b", "1http://x"}},
      {"hostname", {"example.com", "a-b.c"}, {"-a.com", "a..b"}},
      {"byte", {"", "QUJD", "QUI="}, {"QUJ", "Q==="}},
  };
  for (const auto& f : formats) {
    SCOPED_TRACE(f.format);
    CompiledSchema s = compile_json_schema({{"type", "string"}, {"format", f.format}}, "schema");
    for (const char* v : f.good) EXPECT_TRUE(accepts(s, json(v).dump())) << v;
    for (const char* v : f.bad) EXPECT_FALSE(accepts(s, json(v).dump())) << v;
  }
}

// Every state reachable under a pattern can still finish: the DFA is trimmed, and a pattern that
// needs a character no JSON string written without \u can hold is refused as matching nothing.
TEST(JsonSchemaKeywords, PatternsThatCannotMatchAreRefused) {
  EXPECT_EQ(rejected_param(json::parse(R"({"type":"string","pattern":"^\\x01$"})")), "response_format.json_schema.schema");
  EXPECT_EQ(rejected_param(json::parse(R"({"type":"string","pattern":"^a{5}$","maxLength":3})")), "response_format.json_schema.schema");
  EXPECT_EQ(rejected_param(json::parse(R"({"type":"string","pattern":"^[a-c]+$","format":"uuid"})")), "response_format.json_schema.schema");
  EXPECT_EQ(rejected_param(json::parse(R"({"type":"integer","minimum":5,"maximum":4})")), "response_format.json_schema.schema");
  EXPECT_EQ(rejected_param(json::parse(R"({"type":"string","pattern":"(a|b)*a(a|b){18}"})")), "response_format.json_schema.schema.pattern");
}

TEST(JsonSchemaKeywords, ObjectsArraysAndCombinators) {
  check_cases({
      // z.record(z.string().regex(...), z.boolean())
      {R"({"type":"object","propertyNames":{"pattern":"^k\\d$"},"additionalProperties":{"type":"boolean"}})",
       {R"({})", R"({"k1":true,"k2":false})"}, {R"({"x":true})", R"({"k1":1})", R"({"k12":true})"}},
      {R"({"type":"object","propertyNames":{"enum":["a","b"]},"additionalProperties":{"type":"integer"},"minProperties":1,"maxProperties":1})",
       {R"({"a":1})", R"({"b":2})"}, {R"({})", R"({"a":1,"b":2})", R"({"c":1})"}},
      // Required keys always fit under maxProperties.
      {R"({"type":"object","properties":{"a":{"type":"null"},"b":{"type":"null"},"r":{"type":"null"}},"required":["r"],"maxProperties":2})",
       {R"({"r":null})", R"({"a":null,"r":null})", R"({"r":null,"b":null})"}, {R"({"a":null,"b":null})", R"({"a":null,"b":null,"r":null})"}},
      // A required key not declared: its value follows additionalProperties.
      {R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["z"],"additionalProperties":{"type":"string"}})",
       {R"({"z":"x"})", R"({"a":1,"z":""})"}, {R"({"a":1})", R"({"z":1})"}},
      // Tuples (prefixItems, and the older items array).
      {R"({"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false,"minItems":1})",
       {R"(["a"])", R"(["a",1])"}, {R"([])", R"([1])", R"(["a",1,2])"}},
      {R"({"type":"array","items":[{"type":"boolean"}],"additionalItems":{"type":"null"},"maxItems":3})",
       {R"([true,null,null])", R"([])"}, {R"([true,1])", R"([null])", R"([true,null,null,null])"}},
      // allOf of two objects (a Zod intersection), of a $ref and a constraint, of ranges.
      {R"({"allOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},
                    {"type":"object","properties":{"b":{"type":"string","maxLength":2}},"required":["b"]}]})",
       {R"({"a":1,"b":"xy"})", R"({"b":"","a":-3})"}, {R"({"a":1})", R"({"a":1,"b":"xyz"})", R"({"a":"1","b":"x"})"}},
      {R"({"$defs":{"Base":{"type":"object","properties":{"id":{"type":"integer","minimum":0}},"required":["id"],"additionalProperties":false}},
          "allOf":[{"$ref":"#/$defs/Base"},{"properties":{"id":{"maximum":9}}}]})",
       {R"({"id":0})", R"({"id":9})"}, {R"({"id":10})", R"({"id":-1})", R"({"id":1,"x":2})"}},
      // Keywords beside $ref, enum filtered by type, const, nullable.
      {R"({"enum":["a","bb",1,null],"type":"string","maxLength":1})", {R"("a")"}, {R"("bb")", "1", "null"}},
      {R"({"type":"string","nullable":true,"format":"date"})", {"null", R"("2020-01-01")"}, {R"("x")"}},
      {R"({"anyOf":[{"type":"string","pattern":"^a"},{"type":"integer","minimum":3}]})", {R"("abc")", "3"}, {R"("ba")", "2"}},
  });
}

// Random walks through the token mask under every new keyword end in JSON the independent
// validator accepts, and never reach a state with no way to finish.
TEST(JsonSchemaKeywords, RandomWalksMatchTheValidator) {
  uint32_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  const std::vector<std::string> vocab = test::random_vocab(rng, {"\"k1\"", "\"AB-", "-12", "0.25"});
  const char* schemas[] = {
      R"({"type":"object","properties":{"n":{"type":"integer","minimum":-5,"maximum":120},"x":{"type":"number","exclusiveMinimum":0,"maximum":1.5},
          "m":{"type":"integer","multipleOf":7,"minimum":10,"maximum":100}},"required":["n","x","m"]})",
      R"({"type":"string","pattern":"^[A-Z]{2,3}-[0-9]+$","maxLength":6})",
      R"({"type":"object","propertyNames":{"pattern":"^k[0-9]$"},"additionalProperties":{"type":"boolean"},"minProperties":1,"maxProperties":3})",
      R"({"type":"array","prefixItems":[{"type":"string","maxLength":2},{"type":"integer","minimum":0,"maximum":9}],"items":false,"minItems":1})",
      R"({"allOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},{"type":"object","properties":{"b":{"type":"string","maxLength":3}},"required":["b"]}]})",
      R"({"type":"object","properties":{"o1":{"type":"null"},"o2":{"type":"null"},"r":{"type":"boolean"}},"required":["r"],"maxProperties":2})",
      R"({"type":"number","minimum":-0.5,"maximum":0.25,"multipleOf":0.25})",
      R"({"type":"array","items":{"type":"string","pattern":"^(ab|c)*$","minLength":2,"maxLength":4},"maxItems":3})",
  };
  for (const char* text : schemas) {
    const json schema = json::parse(text);
    SCOPED_TRACE(text);
    auto compiled = std::make_shared<CompiledSchema>(compile_json_schema(schema, "schema"));
    int finished = 0;
    for (int walk = 0; walk < 25; ++walk) {
      std::optional<std::string> out = test::mask_walk(compiled, vocab, rng);
      if (!out) continue;
      ++finished;
      json parsed = json::parse(*out, nullptr, false);
      ASSERT_FALSE(parsed.is_discarded()) << *out;
      EXPECT_TRUE(validate(parsed, schema, schema)) << *out;
    }
    EXPECT_GT(finished, 5);
  }
}

}  // namespace
}  // namespace ax::server
