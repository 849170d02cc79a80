// The Responses API's kept responses stay within their bounds, dropping the least recently used.
#include <gtest/gtest.h>

#include "server/responses_store.h"

namespace ax::server {
namespace {

StoredResponse response_of(size_t text_bytes) {
  StoredResponse r;
  r.response = {{"id", "r"}};
  r.conversation = nlohmann::ordered_json::array({{{"role", "user"}, {"content", std::string(text_bytes, 'x')}}});
  return r;
}

TEST(ResponseStore, DropsTheLeastRecentlyUsedPastMaxEntries) {
  ResponseStore store(3, 1 << 20);
  for (const char* id : {"a", "b", "c"}) store.put(id, response_of(10));
  ASSERT_TRUE(store.get("a"));  // a is now the most recently used
  store.put("d", response_of(10));
  EXPECT_EQ(store.size(), 3u);
  EXPECT_TRUE(store.get("a"));
  EXPECT_FALSE(store.get("b"));
  EXPECT_TRUE(store.get("c"));
  EXPECT_TRUE(store.get("d"));
}

TEST(ResponseStore, StaysWithinMaxBytes) {
  ResponseStore store(1000, 10000);
  for (int i = 0; i < 50; ++i) store.put("r" + std::to_string(i), response_of(1000));
  EXPECT_LE(store.bytes(), 10000u);
  EXPECT_GE(store.size(), 5u);
  EXPECT_TRUE(store.get("r49"));
  EXPECT_FALSE(store.get("r0"));
  // One response larger than the whole budget is not kept (and drops nothing).
  const size_t before = store.size();
  store.put("huge", response_of(20000));
  EXPECT_FALSE(store.get("huge"));
  EXPECT_EQ(store.size(), before);
  // Zero entries: nothing kept.
  ResponseStore off(0, 10000);
  off.put("x", response_of(1));
  EXPECT_FALSE(off.get("x"));
}

TEST(ResponseStore, PutAgainReplaces) {
  ResponseStore store(10, 1 << 20);
  store.put("a", response_of(100));
  const size_t bytes = store.bytes();
  store.put("a", response_of(10));
  EXPECT_EQ(store.size(), 1u);
  EXPECT_LT(store.bytes(), bytes);
  EXPECT_EQ(store.get("a")->conversation[0]["content"].get<std::string>().size(), 10u);
}

}  // namespace
}  // namespace ax::server
