#include "util/base64.h"

#include <gtest/gtest.h>

namespace ax {

// RFC 4648's test vectors, both ways.
TEST(Base64, RfcVectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"}};
  for (auto [plain, coded] : vectors) {
    EXPECT_EQ(base64_encode(plain), coded);
    EXPECT_EQ(base64_decode(coded), std::optional<std::string>(plain)) << coded;
  }
  const std::string bytes("\x00\xff\x10\x80", 4);
  EXPECT_EQ(base64_decode(base64_encode(bytes)), std::optional<std::string>(bytes));
}

TEST(Base64, RefusesWhatIsNotBase64) {
  for (const char* bad : {"Zg", "Zg=", "Z===", "Zm=v", "Zm9v!A==", "Zg==Zg==", "Zm 9v"})
    EXPECT_EQ(base64_decode(bad), std::nullopt) << bad;
}

}  // namespace ax
