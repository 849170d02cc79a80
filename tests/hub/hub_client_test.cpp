// hub/hub_client pieces that the fake-hub tests do not reach: URL encoding of repo paths and
// revisions, and endpoints that are not URLs.
#include "hub/hub_client.h"

#include <gtest/gtest.h>

namespace ax::hub {
namespace {

TEST(HubClient, UrlEncoding) {
  EXPECT_EQ(url_encode_path("Qwen/Qwen3-0.6B"), "Qwen/Qwen3-0.6B");
  EXPECT_EQ(url_encode_path("sub dir/a+b~c_d.gguf"), "sub%20dir/a%2Bb~c_d.gguf");
  EXPECT_EQ(url_encode_path("refs/pr/1", false), "refs%2Fpr%2F1");
  EXPECT_EQ(url_encode_path("\xc3\xa9"), "%C3%A9");
}

TEST(HubClient, EndpointMustBeAnHttpUrl) {
  EXPECT_THROW(HubClient("huggingface.co", ""), Error);
  EXPECT_EQ(HubClient("https://hf-mirror.example/", "").endpoint(), "https://hf-mirror.example");
}

}  // namespace
}  // namespace ax::hub
