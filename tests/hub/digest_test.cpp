// hub/digest: known answers (FIPS 180 "abc"; `git hash-object` of "hello world\n" and of an empty
// file) and a file larger than the 1 MiB read buffer against the one-shot string digest.
#include "hub/digest.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_support.h"
#include "util/error.h"

namespace ax::hub {
namespace {

std::filesystem::path write_temp(const std::string& name, const std::string& bytes) {
  auto p = std::filesystem::temp_directory_path() / (name + std::to_string(ax::test::fresh_seed()));
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

TEST(Digest, KnownAnswers) {
  EXPECT_EQ(sha256_string("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const auto hello = write_temp("digest-hello-", "hello world\n");
  EXPECT_EQ(git_blob_sha1_file(hello), "3b18e512dba79e4c8300dd08aeb37f8e728b8dad");
  EXPECT_EQ(sha256_file(hello), sha256_string("hello world\n"));
  const auto empty = write_temp("digest-empty-", "");
  EXPECT_EQ(git_blob_sha1_file(empty), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
  std::filesystem::remove(hello);
  std::filesystem::remove(empty);
}

TEST(Digest, FileLargerThanTheReadBuffer) {
  std::string bytes(3 * (1 << 20) + 12345, '\0');
  ax::test::Rand r;
  for (auto& c : bytes) c = static_cast<char>(r.gen());
  const auto p = write_temp("digest-big-", bytes);
  EXPECT_EQ(sha256_file(p), sha256_string(bytes)) << "seed " << r.seed;
  std::filesystem::remove(p);
}

TEST(Digest, MissingFileNamesIt) {
  try {
    sha256_file("/nonexistent/model.gguf");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.gguf"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ax::hub
