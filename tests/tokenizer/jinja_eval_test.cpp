// Interpreter properties on fresh random data (the seed is printed on failure): tojson output
// parses back to the same JSON, string operations agree with a code-point reference, renders are
// thread-safe, and runaway templates stop at their limits.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "tokenizer/jinja/template.h"
#include "tokenizer/jinja/unicode.h"

namespace ax::jinja {
namespace {

using ordered_json = nlohmann::ordered_json;

unsigned fresh_seed() {
  std::random_device rd;
  return rd();
}

// Random text mixing ASCII, escapes JSON must handle, multi-byte UTF-8 and whitespace.
std::string random_text(std::mt19937& rng, int max_len) {
  static const std::vector<std::string> pieces = {"a", "Z", "0", " ", "\n", "\t", "\r", "\"", "\\", "/", "'",
                                                  "\x01", "\x1f", "\x7f", "é", "ß", "Ω", "я", "你", "🎉",
                                                  "\u00a0", "\u2028", "\u3000", "<|im_end|>", "{{", "%}"};
  std::string s;
  int n = static_cast<int>(rng() % (max_len + 1));
  for (int i = 0; i < n; ++i) s += pieces[rng() % pieces.size()];
  return s;
}

ordered_json random_json(std::mt19937& rng, int depth) {
  int kind = static_cast<int>(rng() % (depth > 0 ? 8 : 6));
  switch (kind) {
    case 0: return nullptr;
    case 1: return rng() % 2 == 0;
    case 2: return static_cast<int64_t>(rng()) - (1ll << 31);
    case 3: return std::ldexp(static_cast<double>(rng() % 100000) - 50000, static_cast<int>(rng() % 40) - 20);
    case 4:
    case 5: return random_text(rng, 12);
    case 6: {
      ordered_json a = ordered_json::array();
      for (int i = static_cast<int>(rng() % 4); i > 0; --i) a.push_back(random_json(rng, depth - 1));
      return a;
    }
    default: {
      ordered_json o = ordered_json::object();
      for (int i = static_cast<int>(rng() % 4); i > 0; --i) o[random_text(rng, 6) + std::to_string(i)] = random_json(rng, depth - 1);
      return o;
    }
  }
}

std::string render(const std::string& src, const std::vector<std::pair<std::string, Value>>& ctx, RenderOptions o = {}) {
  return Template(src).render(ctx, o);
}

TEST(JinjaEval, ToJsonRoundTripsRandomValues) {
  const unsigned seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  Template compact("{{ v | tojson }}"), indented("{{ v | tojson(indent=2) }}"), ascii("{{ v | tojson(ensure_ascii=true) }}");
  for (int i = 0; i < 300; ++i) {
    ordered_json j = random_json(rng, 4);
    std::vector<std::pair<std::string, Value>> ctx = {{"v", from_json(j)}};
    for (const Template* t : {&compact, &indented, &ascii}) {
      std::string out = t->render(ctx);
      ordered_json back = ordered_json::parse(out);
      EXPECT_EQ(back, j) << out;
    }
    std::string a = ascii.render(ctx);
    for (char c : a) EXPECT_LT(static_cast<unsigned char>(c), 0x80) << a;
  }
}

TEST(JinjaEval, StringOperationsCountCodePoints) {
  const unsigned seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  Template t("{{ s | length }}|{{ s[::-1] }}|{{ s[1:3] }}|{{ s | trim }}|{{ s.lstrip() }}|{{ s.rstrip() }}");
  for (int i = 0; i < 300; ++i) {
    std::string s = random_text(rng, 10);
    auto cps = utf8::decode(s);
    auto is_ws = [](char32_t c) { return utf8::is_space(c); };
    std::vector<char32_t> rev(cps.rbegin(), cps.rend());
    std::vector<char32_t> mid;
    for (size_t k = 1; k < 3 && k < cps.size(); ++k) mid.push_back(cps[k]);
    size_t b = 0, e = cps.size();
    while (b < e && is_ws(cps[b])) ++b;
    while (e > b && is_ws(cps[e - 1])) --e;
    size_t r = cps.size();
    while (r > 0 && is_ws(cps[r - 1])) --r;
    std::string want = std::to_string(cps.size()) + "|" + utf8::encode(rev) + "|" + utf8::encode(mid) + "|" +
                       utf8::encode({cps.begin() + b, cps.begin() + e}) + "|" +
                       utf8::encode({cps.begin() + b, cps.end()}) + "|" + utf8::encode({cps.begin(), cps.begin() + r});
    if (b == cps.size()) want = std::to_string(cps.size()) + "|" + utf8::encode(rev) + "|" + utf8::encode(mid) + "|||";
    EXPECT_EQ(t.render({{"s", Value::string(s)}}), want) << ordered_json(s).dump();
  }
}

TEST(JinjaEval, UndecodableBytesSurviveUntouched) {
  std::string s = "a\xff\xc3(b\xe2\x82";  // invalid UTF-8 from a template or message
  EXPECT_EQ(render("{{ s }}|{{ s | length }}|{{ s[::-1][::-1] }}", {{"s", Value::string(s)}}), s + "|7|" + s);
}

TEST(JinjaEval, ConcurrentRendersOfOneTemplate) {
  Template t(
      "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
      "{{ loop.index }}:{{ m.role | upper }}:{{ m.content | trim }};{% endfor %}{{ ns.n }}");
  const unsigned seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::vector<std::thread> threads;
  std::vector<int> failures(8, 0);
  for (int k = 0; k < 8; ++k) {
    threads.emplace_back([&, k] {
      std::mt19937 rng(seed + k);
      for (int i = 0; i < 200; ++i) {
        int n = 1 + static_cast<int>(rng() % 5);
        ordered_json msgs = ordered_json::array();
        std::string want;
        for (int m = 0; m < n; ++m) {
          std::string c = "t" + std::to_string(k) + "-" + std::to_string(rng() % 1000);
          msgs.push_back({{"role", m % 2 ? "assistant" : "user"}, {"content", " " + c + " "}});
          want += std::to_string(m + 1) + ":" + (m % 2 ? "ASSISTANT" : "USER") + ":" + c + ";";
        }
        want += std::to_string(n);
        if (t.render({{"messages", from_json(msgs)}}) != want) ++failures[k];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int k = 0; k < 8; ++k) EXPECT_EQ(failures[k], 0) << "thread " << k;
}

TEST(JinjaEval, LimitsStopRunawayTemplates) {
  RenderOptions o;
  o.limits.max_steps = 5000;
  EXPECT_THROW(render("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}", {}, o), TemplateError);
  EXPECT_NO_THROW(render("{% for i in range(40) %}{% for j in range(40) %}{% endfor %}{% endfor %}", {}, o));
  o = {};
  o.limits.max_output_bytes = 1000;
  EXPECT_THROW(render("{% for i in range(2000) %}x{% endfor %}", {}, o), TemplateError);
  EXPECT_THROW(render("{{ 'ab' * 100000 }}", {}, o), TemplateError);
  EXPECT_THROW(render("{% set ns = namespace(l=[]) %}{% for i in range(3000) %}{% set ns.l = [ns.l] %}{% endfor %}"
                      "{{ ns.l | length }}",
                      {}),
               TemplateError);  // nesting depth
  o = {};
  o.limits.max_call_depth = 20;
  EXPECT_THROW(render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", {}, o), TemplateError);
  EXPECT_EQ(render("{% macro f(n) %}{% if n < 10 %}{{ f(n + 1) }}{% endif %}{{ n }}{% endmacro %}{{ f(0) }}", {}, o),
            "109876543210");
}

TEST(JinjaEval, ErrorsNameLineAndColumn) {
  try {
    Template t("a\nb {{ x | nope }}");
    FAIL() << "parsed";
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.line(), 2);
    EXPECT_EQ(e.column(), 10);
    EXPECT_EQ(e.reason(), "unknown filter 'nope'");
  }
  try {
    Template("{% for x in y %}\n\n  {{ x.a.b }}{% endfor %}").render({{"y", from_json(ordered_json::parse("[{}]"))}});
    FAIL() << "rendered";
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.line(), 3);
    EXPECT_NE(e.reason().find("has no attribute 'a'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Template("{% raw %}never closed"), TemplateError);
  EXPECT_THROW(Template("{# never closed"), TemplateError);
  EXPECT_THROW(Template("{{ 'unterminated }}"), TemplateError);
  EXPECT_THROW(Template("{% break %}"), TemplateError);
  EXPECT_THROW(Template("{% include 'x' %}"), TemplateError);
}

}  // namespace
}  // namespace ax::jinja
