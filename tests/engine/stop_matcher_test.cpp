// Stop strings across token boundaries: nothing of a stop string is ever released, the text
// before it always is, whatever the split.
#include <gtest/gtest.h>

#include <random>

#include "engine/stop_matcher.h"

namespace ax {
namespace {

TEST(StopMatcher, FindsAStopStringSplitAcrossPieces) {
  StopMatcher m({"\n\nUser:", "###"});
  std::string out;
  out += m.push("Hello");
  out += m.push(" world\n");
  EXPECT_EQ(out, "Hello world");  // "\n" could start the first stop string
  out += m.push("\nUs");
  EXPECT_FALSE(m.matched());
  out += m.push("er: next");
  EXPECT_TRUE(m.matched());
  EXPECT_EQ(m.matched_stop(), "\n\nUser:");
  EXPECT_EQ(out, "Hello world");
  EXPECT_EQ(m.push("more"), "");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, ReleasesHeldTextWhenItStopsLookingLikeAStop) {
  StopMatcher m({"abc"});
  EXPECT_EQ(m.push("xa"), "x");
  EXPECT_EQ(m.push("b"), "");
  EXPECT_EQ(m.push("d"), "abd");
  EXPECT_EQ(m.push("ab"), "");
  EXPECT_EQ(m.flush(), "ab");
  EXPECT_FALSE(m.matched());
}

TEST(StopMatcher, TheFirstCompletedStopWinsWhateverTheSplit) {
  StopMatcher m({"cd", "bcd"});
  EXPECT_EQ(m.push("abcde"), "a");  // both end at 'd': the longer one starts first
  EXPECT_EQ(m.matched_stop(), "bcd");
  // "b" completes before "abc" does, in one piece or in two.
  StopMatcher one({"abc", "b"}), two({"abc", "b"});
  EXPECT_EQ(one.push("abc"), "a");
  std::string split = two.push("a");
  split += two.push("bc");
  EXPECT_EQ(split, "a");
  EXPECT_EQ(one.matched_stop(), "b");
}

TEST(StopMatcher, EmptyStopListPassesEverything) {
  StopMatcher m({"", ""});
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.push("abc"), "abc");
}

// Random texts over a tiny alphabet (so stop strings occur often and overlap), split at random:
// the released text always equals the text before the first completed occurrence.
TEST(StopMatcher, PropertyAnySplitGivesTheTextBeforeTheFirstStop) {
  uint32_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  auto random_string = [&](size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += static_cast<char>('a' + rng() % 3);
    return s;
  };
  for (int iter = 0; iter < 2000; ++iter) {
    std::vector<std::string> stops;
    for (int k = 1 + rng() % 3; k > 0; --k) stops.push_back(random_string(1 + rng() % 4));
    std::string text = random_string(rng() % 40);
    // Reference: scan character by character for the first end of an occurrence.
    size_t first = std::string::npos;
    for (size_t end = 1; end <= text.size() && first == std::string::npos; ++end) {
      size_t longest = 0;
      for (const auto& s : stops)
        if (s.size() <= end && text.compare(end - s.size(), s.size(), s) == 0) longest = std::max(longest, s.size());
      if (longest) first = end - longest;
    }
    StopMatcher m(stops);
    std::string out;
    for (size_t i = 0; i < text.size();) {
      size_t n = std::min<size_t>(text.size() - i, rng() % 4);
      out += m.push(std::string_view(text).substr(i, n));
      i += n;
    }
    out += m.flush();
    ASSERT_EQ(m.matched(), first != std::string::npos) << text;
    ASSERT_EQ(out, first == std::string::npos ? text : text.substr(0, first)) << text;
  }
}

}  // namespace
}  // namespace ax
