// hub/model_cache: name parsing (paths are not names, names never leave the cache), the cache
// folder's precedence, and list / find / remove over a hand-made cache.
#include "hub/model_cache.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "test_support.h"
#include "util/error.h"

namespace ax::hub {
namespace {

TEST(ModelName, ParsesRepoAndFile) {
  auto n = parse_model_name("Qwen/Qwen3-0.6B");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->repo, "Qwen/Qwen3-0.6B");
  EXPECT_EQ(n->file, "");
  n = parse_model_name("unsloth/Qwen3-0.6B-GGUF:Qwen3-0.6B-Q4_K_M.gguf");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->repo, "unsloth/Qwen3-0.6B-GGUF");
  EXPECT_EQ(n->file, "Qwen3-0.6B-Q4_K_M.gguf");
  EXPECT_EQ(n->str(), "unsloth/Qwen3-0.6B-GGUF:Qwen3-0.6B-Q4_K_M.gguf");
  for (const char* not_a_name : {"model.gguf", "/abs/path", "./a/b", "../a/b", "a/b/c", "a/..", "a/b:../x.gguf",
                                 "a/b:/etc/passwd", "a/b:x.gguf.part", "a/b:"})
    EXPECT_FALSE(parse_model_name(not_a_name)) << not_a_name;
}

TEST(CacheDir, FlagThenEnvironmentThenHome) {
  const char* saved = std::getenv("AX_ENGINE_CACHE");
  const std::string saved_value = saved ? saved : "";
  setenv("AX_ENGINE_CACHE", "/tmp/from-env", 1);
  EXPECT_EQ(cache_dir("/tmp/from-flag"), "/tmp/from-flag");
  EXPECT_EQ(cache_dir(), "/tmp/from-env");
  unsetenv("AX_ENGINE_CACHE");
  if (!std::getenv("XDG_CACHE_HOME") && std::getenv("HOME")) {
    EXPECT_EQ(cache_dir(), fs::path(std::getenv("HOME")) / ".cache" / "ax-engine");
  }
  if (saved) setenv("AX_ENGINE_CACHE", saved_value.c_str(), 1);
}

TEST(PulledModels, ListFindRemove) {
  const fs::path cache = fs::temp_directory_path() / ("ax-cache-test-" + std::to_string(ax::test::fresh_seed()));
  auto put = [&](const std::string& rel, size_t bytes) {
    fs::create_directories((cache / "models" / rel).parent_path());
    std::ofstream(cache / "models" / rel) << std::string(bytes, 'x');
  };
  put("acme/folder/config.json", 10);
  put("acme/folder/model.safetensors", 1000);
  put("acme/folder/tokenizer.json.part", 5);
  put("acme/gg/sub/m-Q4_K_M.gguf", 300);
  put("acme/gg/n.gguf.part", 7);

  const auto models = list_pulled(cache);
  ASSERT_EQ(models.size(), 3u);
  EXPECT_EQ(models[0].name, "acme/folder");
  EXPECT_EQ(models[0].format, "safetensors");
  EXPECT_EQ(models[0].bytes(), 1015u);
  EXPECT_EQ(models[1].name, "acme/gg:n.gguf");
  EXPECT_TRUE(models[1].files.at(0).partial);
  EXPECT_EQ(models[2].name, "acme/gg:sub/m-Q4_K_M.gguf");
  EXPECT_EQ(models[2].bytes(), 300u);

  EXPECT_EQ(find_pulled(cache, *parse_model_name("acme/folder")), cache / "models/acme/folder");
  EXPECT_EQ(find_pulled(cache, *parse_model_name("acme/gg")), cache / "models/acme/gg/sub/m-Q4_K_M.gguf");
  EXPECT_FALSE(find_pulled(cache, *parse_model_name("acme/gg:n.gguf")));  // only a part
  EXPECT_FALSE(find_pulled(cache, *parse_model_name("acme/absent")));

  EXPECT_EQ(remove_pulled(cache, *parse_model_name("acme/gg:sub/m-Q4_K_M.gguf")), 300u);
  EXPECT_FALSE(fs::exists(cache / "models/acme/gg/sub"));
  EXPECT_EQ(remove_pulled(cache, *parse_model_name("acme/gg:n.gguf")), 7u);
  EXPECT_FALSE(fs::exists(cache / "models/acme/gg"));
  EXPECT_THROW(remove_pulled(cache, *parse_model_name("acme/gg")), Error);
  EXPECT_EQ(remove_pulled(cache, *parse_model_name("acme/folder")), 1015u);
  EXPECT_FALSE(fs::exists(cache / "models/acme"));
  EXPECT_TRUE(list_pulled(cache).empty());
  fs::remove_all(cache);
}

TEST(HumanBytes, Units) {
  EXPECT_EQ(human_bytes(999), "999 B");
  EXPECT_EQ(human_bytes(31482128), "31.5 MB");
  EXPECT_EQ(human_bytes(4'920'000'000ull), "4.9 GB");
}

}  // namespace
}  // namespace ax::hub
