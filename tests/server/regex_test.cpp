// JSON Schema patterns compiled to byte automata: membership equals std::regex_search (the
// ECMAScript grammar, an independent implementation) on random strings, and unsupported syntax is
// a 400 naming it.
#include <gtest/gtest.h>

#include <random>
#include <regex>

#include "server/api_error.h"
#include "server/regex.h"

namespace ax::server {
namespace {

bool dfa_matches(const ByteDfa& d, const std::string& s) {
  if (d.empty()) return false;
  int32_t st = d.start();
  for (unsigned char c : s) {
    st = d.next(st, c);
    if (st == ByteDfa::kDead) return false;
  }
  return d.accepting(st);
}

TEST(PatternDfa, AgreesWithStdRegexOnRandomStrings) {
  const char* patterns[] = {
      "", "a", "^a", "a$", "^a*b$", "ab|cd", "^(ab|a)c?$", "[^a-c]{2}", "^\\d{2,3}$", "x+?y", "^$", "a.c",
      "^[\\w-]+@x$", "(?:ab){2,}", "^a{0}b$", "[a-]", "\\.", "^[^\\s]+$", "^(a|b)*c(a|b)?$", "^[0-9]{1,2}(\\.[0-9]+)?$",
      "b{2}a|^c", "^(?<n>a+)-\\1?", "[\\]]", "^[.]$", "^\\x61\\u0062$", "a|b|^$", "^(a*)*$", "^[\\d.-]+$",
  };
  const std::string alphabet = "abcxy0123-_. @]";
  std::mt19937 rng(std::random_device{}());
  for (const char* p : patterns) {
    SCOPED_TRACE(p);
    std::regex oracle;
    try {
      oracle = std::regex(p, std::regex::ECMAScript);
    } catch (const std::regex_error&) {
      continue;  // not ECMAScript std::regex accepts (e.g. \1 inside its own group)
    }
    ByteDfa d;
    try {
      d = compile_pattern(p, "pattern");
    } catch (const ApiError& e) {
      // Only backreferences may be refused among these.
      EXPECT_NE(std::string(e.what()).find("backreference"), std::string::npos) << e.what();
      continue;
    }
    for (int trial = 0; trial < 400; ++trial) {
      std::string s;
      for (int i = 0, n = rng() % 7; i < n; ++i) s += alphabet[rng() % alphabet.size()];
      ASSERT_EQ(dfa_matches(d, s), std::regex_search(s, oracle)) << "'" << s << "'";
    }
  }
}

TEST(PatternDfa, UnicodeClassesMatchWholeCharacters) {
  ByteDfa d = compile_pattern("^[é-ë]x.$", "pattern");
  EXPECT_TRUE(dfa_matches(d, "éxa"));
  EXPECT_TRUE(dfa_matches(d, "ëx\xF0\x9F\x98\x80"));  // . takes a 4-byte character
  EXPECT_FALSE(dfa_matches(d, "ìxa"));
  EXPECT_FALSE(dfa_matches(d, "\xC3x"));  // half a character
  ByteDfa not_ascii = compile_pattern("^[^a-z]$", "pattern");
  EXPECT_TRUE(dfa_matches(not_ascii, "\xE4\xB8\xAD"));
  EXPECT_FALSE(dfa_matches(not_ascii, "q"));
}

TEST(PatternDfa, UnsupportedSyntaxNamesItself) {
  auto why = [](const char* p) -> std::string {
    try {
      compile_pattern(p, "schema.pattern");
    } catch (const ApiError& e) {
      EXPECT_EQ(e.param(), "schema.pattern");
      return e.what();
    }
    return "<accepted>";
  };
  EXPECT_NE(why("a(?=b)").find("lookahead"), std::string::npos);
  EXPECT_NE(why("(?<!a)b").find("lookbehind"), std::string::npos);
  EXPECT_NE(why("\\bword").find("word boundary"), std::string::npos);
  EXPECT_NE(why("(a)\\1").find("backreference"), std::string::npos);
  EXPECT_NE(why("\\p{L}").find("Unicode property"), std::string::npos);
  EXPECT_NE(why("(?i)a").find("inline flags"), std::string::npos);
  EXPECT_NE(why("a{2000}").find("more than 1000"), std::string::npos);
  EXPECT_NE(why("(a").find("unmatched '('"), std::string::npos);
  EXPECT_NE(why("*a").find("nothing to repeat"), std::string::npos);
  EXPECT_NE(why("[b-a]").find("out of order"), std::string::npos);
}

// The character-count table under a length limit: a state can finish within [lo, hi] exactly
// when some accepted continuation has that many characters.
TEST(PatternDfa, LengthTablesCountCharacters) {
  ByteDfa d = compile_pattern("^(ab|é)+$", "pattern");
  ByteDfa::Lengths l = d.lengths(6);  // up to 5 exactly, 6 = "6 or more"
  const int32_t s = d.start();
  EXPECT_FALSE(l.any_between(s, 0, 0));
  EXPECT_TRUE(l.any_between(s, 1, 1));   // "é"
  EXPECT_TRUE(l.any_between(s, 2, 2));   // "ab", "éé"
  EXPECT_TRUE(l.any_between(s, 5, 5));
  EXPECT_TRUE(l.any_between(s, 5, -1));  // unbounded above (bit 6: six or more)
  ByteDfa even = compile_pattern("^(ab)*$", "pattern");
  ByteDfa::Lengths le = even.lengths(5);
  EXPECT_TRUE(le.any_between(even.start(), 0, 0));
  EXPECT_FALSE(le.any_between(even.start(), 1, 1));
  EXPECT_FALSE(le.any_between(even.start(), 3, 3));
  EXPECT_TRUE(le.any_between(even.start(), 3, 4));
}

}  // namespace
}  // namespace ax::server
