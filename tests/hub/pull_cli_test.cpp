// `ax-engine pull`, `list`, `rm` and `--model owner/name` end to end: the real binary, with
// HF_ENDPOINT at a fake hub (fake_hub.h) that serves the bundled models/ax-code-15m folder as the
// repo "ax/code" and the bundled stories260K.gguf as "ax/stories-GGUF".
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fake_hub.h"
#include "test_support.h"

namespace ax::test {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CliRun {
  int status = -1;
  std::string output;  // stdout and stderr together
};

class PullCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = fs::temp_directory_path() / ("ax-pull-cli-" + std::to_string(fresh_seed()));
    std::vector<FakeFile> code;
    for (const auto& e : fs::directory_iterator(source_dir() + "/models/ax-code-15m")) {
      const std::string name = e.path().filename().string();
      code.push_back({name, read_file(e.path()), name.find(".safetensors") != std::string::npos &&
                                                     name.find(".json") == std::string::npos});
    }
    hub_.add_repo("ax/code", code);
    hub_.add_repo("ax/stories-GGUF",
                  {{"stories260K.gguf", read_file(source_dir() + "/models/stories260K/stories260K.gguf"), true}});
  }
  void TearDown() override { fs::remove_all(cache_); }

  // Runs ax-engine with HF_ENDPOINT at the fake hub and AX_ENGINE_CACHE at a fresh folder.
  CliRun ax(const std::string& args) {
    const std::string cmd = "HF_ENDPOINT=" + hub_.endpoint() + " AX_ENGINE_CACHE=" + cache_.string() + " " +
                            AX_ENGINE_BINARY + " " + args + " 2>&1";
    CliRun r;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return r;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
    const int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
  }

  FakeHub hub_;
  fs::path cache_;
};

TEST_F(PullCliTest, PullListGenerateRemove) {
  CliRun r = ax("pull ax/code");
  ASSERT_EQ(r.status, 0) << r.output;
  const fs::path dir = cache_ / "models/ax/code";
  EXPECT_NE(r.output.find(dir.string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("model-00001-of-00003.safetensors: 11.8 MB, sha256 verified"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("config.json: 957 B, git blob id verified"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "provenance.txt"));  // not a file the model needs
  for (const char* f : {"config.json", "tokenizer.json", "model-00003-of-00003.safetensors"})
    EXPECT_EQ(read_file(dir / f), read_file(source_dir() + "/models/ax-code-15m/" + f)) << f;

  r = ax("pull ax/stories-GGUF");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("chose stories260K.gguf"), std::string::npos) << r.output;

  r = ax("list");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("ax/code  safetensors  32.0 MB"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("model-00002-of-00003.safetensors"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ax/stories-GGUF:stories260K.gguf  gguf"), std::string::npos) << r.output;

  r = ax("generate --model ax/code --prompt 'import os' --max-tokens 6 --temperature 0 --threads 2");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("generated: 6 tokens"), std::string::npos) << r.output;
  r = ax("generate --model ax/stories-GGUF --prompt 'Once upon a time' --max-tokens 12 --temperature 0 --threads 2");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Once upon a time, there was a little girl"), std::string::npos) << r.output;
  r = ax("inspect --model ax/stories-GGUF:stories260K.gguf");
  EXPECT_EQ(r.status, 0) << r.output;

  r = ax("rm ax/code");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("removed ax/code (32.0 MB)"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir));
  r = ax("generate --model ax/code --prompt x --max-tokens 1");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("'ax/code' is neither a file or folder nor a model pulled into"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("`ax-engine pull ax/code` fetches it"), std::string::npos) << r.output;
  r = ax("rm ax/code");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("no pulled model is named 'ax/code'"), std::string::npos) << r.output;
}

TEST_F(PullCliTest, MissingRepoExitsOneWithAHint) {
  const CliRun r = ax("pull nobody/nothing");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("error: listing the files of nobody/nothing at main: repository 'nobody/nothing' was not "
                          "found on " + hub_.endpoint() + " (HTTP 404); if it is private or gated, set HF_TOKEN"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(cache_ / "models/nobody"));
}

}  // namespace
}  // namespace ax::test
