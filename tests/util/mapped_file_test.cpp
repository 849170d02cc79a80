#include "util/mapped_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "util/error.h"

namespace ax {
namespace {
namespace fs = std::filesystem;

std::string error_of(const std::string& path) {
  try {
    MappedFile f(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(MappedFile, MapsBytesAndNamesPathsInErrors) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const fs::path dir = fs::temp_directory_path() / ("ax_mapped_" + std::to_string(seed));
  fs::create_directories(dir);
  std::string bytes(std::uniform_int_distribution<size_t>(1, 100000)(rng), '\0');
  for (auto& c : bytes) c = static_cast<char>(rng());
  std::ofstream(dir / "data.bin", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  std::ofstream(dir / "empty.bin").close();
  {
    MappedFile f((dir / "data.bin").string());
    ASSERT_EQ(f.size(), bytes.size());
    EXPECT_EQ(std::memcmp(f.data(), bytes.data(), bytes.size()), 0);
    EXPECT_EQ(f.path(), (dir / "data.bin").string());
    MappedFile e((dir / "empty.bin").string());
    EXPECT_EQ(e.size(), 0u);
  }
  const std::string missing = (dir / "missing.bin").string();
  EXPECT_NE(error_of(missing).find(missing + ": cannot open"), std::string::npos);
  EXPECT_NE(error_of(dir.string()).find(dir.string() + ": not a regular file"), std::string::npos);

  const std::string copy = bytes;
  auto borrowed = MappedFile::borrow(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "buffer");
  EXPECT_EQ(borrowed->data(), reinterpret_cast<const uint8_t*>(bytes.data()));
  EXPECT_EQ(borrowed->path(), "buffer");
  borrowed.reset();  // must not unmap or free the caller's bytes
  EXPECT_EQ(bytes, copy);
  fs::remove_all(dir);
}

// Releasing pages drops them from a file mapping only (they read back unchanged); any other memory
// is left alone, so a borrowed buffer keeps its bytes.
TEST(MappedFile, ReleasePagesTouchesFileMappingsOnly) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const fs::path path = fs::temp_directory_path() / ("ax_release_" + std::to_string(seed) + ".bin");
  std::string bytes(1 << 20, '\0');
  for (auto& c : bytes) c = static_cast<char>(rng() | 1);  // never zero: a zeroed page would show
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  {
    MappedFile f(path.string());
    MappedFile::release_pages(f.data(), f.size());
    EXPECT_EQ(std::memcmp(f.data(), bytes.data(), bytes.size()), 0);  // re-read from the file
  }
  std::vector<uint8_t> heap(bytes.begin(), bytes.end());
  auto borrowed = MappedFile::borrow(heap.data(), heap.size(), "buffer");
  MappedFile::release_pages(heap.data(), heap.size());
  EXPECT_EQ(std::memcmp(heap.data(), bytes.data(), bytes.size()), 0);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ax
