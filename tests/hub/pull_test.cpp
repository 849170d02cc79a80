// hub/pull against a fake hub on loopback (fake_hub.h): the files a model needs land with the
// right bytes; a dropped connection resumes with a Range request, within one pull and across pulls;
// a digest that does not match is an error and leaves nothing behind; a missing repo, revision or
// file, a private repo without a token, and an unreachable hub are clear errors; GGUF choice.
#include "hub/pull.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fake_hub.h"
#include "test_support.h"

namespace ax::hub {
namespace {

using ax::test::FakeFile;
using ax::test::FakeHub;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string random_bytes(size_t n, ax::test::Rand& r) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(r.gen());
  return s;
}

// A throwaway cache folder and quiet pull options (log to a temp file, short retry waits).
class PullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = fs::temp_directory_path() / ("ax-pull-test-" + std::to_string(ax::test::fresh_seed()));
    options_.log = std::tmpfile();
    options_.retry_wait_s = 0.01;
  }
  void TearDown() override {
    std::fclose(options_.log);
    fs::remove_all(cache_);
  }
  PullResult pull(const std::string& name, HubClient client) {
    return pull_model(client, cache_, *parse_model_name(name), options_);
  }
  PullResult pull(const std::string& name) { return pull(name, HubClient(hub_.endpoint(), "")); }
  std::string pull_error(const std::string& name, HubClient client) {
    try {
      pull(name, client);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  }
  std::string pull_error(const std::string& name) { return pull_error(name, HubClient(hub_.endpoint(), "")); }

  FakeHub hub_;
  fs::path cache_;
  PullOptions options_;
  ax::test::Rand rand_;
};

TEST_F(PullTest, SafetensorsRepoFetchesWhatTheModelNeedsAndNothingElse) {
  const std::string index = R"({"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors",)"
                            R"("b":"model-00002-of-00002.safetensors"}})";
  std::vector<FakeFile> files = {
      {"config.json", R"({"model_type":"llama"})"},
      {"tokenizer.json", random_bytes(3000, rand_)},
      {"tokenizer_config.json", "{}"},
      {"chat_template.jinja", "{{ messages }}"},
      {"model.safetensors.index.json", index},
      {"model-00001-of-00002.safetensors", random_bytes(200000, rand_), true},
      {"model-00002-of-00002.safetensors", random_bytes(150001, rand_), true},
      {"consolidated.safetensors", random_bytes(1000, rand_), true},  // not in the index
      {"README.md", "# card"},
      {"original/params.json", "{}"},
      {"pytorch_model.bin", random_bytes(100, rand_), true}};
  hub_.add_repo("acme/tiny", files);
  const PullResult r = pull("acme/tiny");
  EXPECT_EQ(r.name.str(), "acme/tiny");
  EXPECT_EQ(r.path, repo_dir(cache_, "acme/tiny"));
  uint64_t wanted = 0;
  for (const auto& f : files) {
    const bool needed = f.path.find("consolidated") == std::string::npos && f.path != "README.md" &&
                        f.path.find('/') == std::string::npos && f.path != "pytorch_model.bin";
    EXPECT_EQ(fs::exists(r.path / f.path), needed) << f.path;
    if (needed) {
      EXPECT_EQ(read_file(r.path / f.path), f.bytes) << f.path;
      wanted += f.bytes.size();
    }
  }
  EXPECT_EQ(r.downloaded, wanted);
  EXPECT_FALSE(hub_.cdn_saw_authorization());
  // Pulled again: everything is already here.
  EXPECT_EQ(pull("acme/tiny").downloaded, 0u);
}

TEST_F(PullTest, TokenGoesToTheHubButNotToTheCdn) {
  hub_.require_token("secret");
  hub_.add_repo("acme/private", {{"w.gguf", random_bytes(5000, rand_), true}});
  const std::string e = pull_error("acme/private");
  EXPECT_NE(e.find("repository 'acme/private' was not found"), std::string::npos) << e;
  EXPECT_NE(e.find("HF_TOKEN"), std::string::npos) << e;
  const PullResult r = pull("acme/private", HubClient(hub_.endpoint(), "secret"));
  EXPECT_EQ(r.name.str(), "acme/private:w.gguf");
  EXPECT_TRUE(fs::is_regular_file(r.path));
  EXPECT_FALSE(hub_.cdn_saw_authorization());
}

TEST_F(PullTest, DroppedConnectionResumesWithARangeRequest) {
  const std::string big = random_bytes(300000, rand_);
  hub_.add_repo("acme/gguf", {{"m-Q4_K_M.gguf", big, true}});
  hub_.drop_next_download("m-Q4_K_M.gguf", 100000);
  const PullResult r = pull("acme/gguf");
  EXPECT_EQ(read_file(r.path), big);
  const auto ranges = hub_.ranges("m-Q4_K_M.gguf");
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], "");
  EXPECT_EQ(ranges[1], "bytes=100000-");
  EXPECT_FALSE(fs::exists(r.path.string() + ".part"));
}

TEST_F(PullTest, InterruptedPullLeavesAPartThatTheNextPullContinues) {
  const std::string big = random_bytes(250000, rand_);
  hub_.add_repo("acme/gguf", {{"m.gguf", big, true}});
  hub_.drop_next_download("m.gguf", 70000);
  options_.attempts = 1;
  const std::string e = pull_error("acme/gguf");
  EXPECT_NE(e.find("pull again to resume"), std::string::npos) << e;
  const fs::path part = repo_dir(cache_, "acme/gguf") / "m.gguf.part";
  ASSERT_TRUE(fs::exists(part));
  EXPECT_EQ(fs::file_size(part), 70000u);
  EXPECT_FALSE(find_pulled(cache_, *parse_model_name("acme/gguf")).has_value());  // not complete yet
  const auto listed = list_pulled(cache_);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_TRUE(listed[0].files.at(0).partial);

  const PullResult r = pull("acme/gguf");
  EXPECT_EQ(r.downloaded, 180000u);
  EXPECT_EQ(read_file(r.path), big);
  EXPECT_EQ(hub_.ranges("m.gguf").back(), "bytes=70000-");
  EXPECT_EQ(find_pulled(cache_, *parse_model_name("acme/gguf")), r.path);
}

TEST_F(PullTest, WrongDigestIsAnErrorAndKeepsNothing) {
  hub_.add_repo("acme/bad", {{"m.gguf", random_bytes(4000, rand_), true, std::string(64, 'a')}});
  const std::string e = pull_error("acme/bad");
  EXPECT_NE(e.find("sha256"), std::string::npos) << e;
  EXPECT_NE(e.find("does not match"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(repo_dir(cache_, "acme/bad") / "m.gguf"));
  EXPECT_FALSE(fs::exists(repo_dir(cache_, "acme/bad") / "m.gguf.part"));
}

TEST_F(PullTest, WrongBlobIdOfASmallFileIsAnError) {
  // The listing's git blob id is for these bytes; a part file already holding other bytes of the
  // same length is "complete" by size, so only the digest can catch it.
  hub_.add_repo("acme/cfg", {{"config.json", "{\"a\":1}"}, {"m.safetensors", "x", true}});
  fs::create_directories(repo_dir(cache_, "acme/cfg"));
  std::ofstream(repo_dir(cache_, "acme/cfg") / "config.json.part") << "{\"a\":2}";
  const std::string e = pull_error("acme/cfg");
  EXPECT_NE(e.find("config.json: git blob id"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(repo_dir(cache_, "acme/cfg") / "config.json"));
  EXPECT_EQ(read_file(pull("acme/cfg").path / "config.json"), "{\"a\":1}");
}

TEST_F(PullTest, MissingRepoRevisionAndFileAreClearErrors) {
  hub_.add_repo("acme/gguf", {{"a-Q8_0.gguf", "x", true}, {"a-Q4_K_M.gguf", "y", true}});
  std::string e = pull_error("acme/nothing");
  EXPECT_NE(e.find("repository 'acme/nothing' was not found on " + hub_.endpoint()), std::string::npos) << e;
  EXPECT_NE(e.find("set HF_TOKEN"), std::string::npos) << e;
  options_.revision = "v9";
  e = pull_error("acme/gguf");
  EXPECT_NE(e.find("no such revision"), std::string::npos) << e;
  options_.revision = "main";
  e = pull_error("acme/gguf:b.gguf");
  EXPECT_NE(e.find("acme/gguf has no file 'b.gguf'; its GGUF files: a-Q8_0.gguf, a-Q4_K_M.gguf"), std::string::npos) << e;
  e = pull_error("acme/gguf", HubClient("http://127.0.0.1:1", ""));
  EXPECT_NE(e.find("offline?"), std::string::npos) << e;
}

TEST_F(PullTest, GgufChoice) {
  hub_.add_repo("acme/q", {{"a-Q8_0.gguf", "8", true}, {"a-Q4_K_M.gguf", "4", true}, {"mmproj-f16.gguf", "m", true}});
  PullResult r = pull("acme/q");
  EXPECT_EQ(r.name.str(), "acme/q:a-Q4_K_M.gguf");
  EXPECT_EQ(read_file(r.path), "4");
  r = pull("acme/q:a-Q8_0.gguf");
  EXPECT_EQ(read_file(r.path), "8");
  // Two GGUF files pulled: the bare repo name is ambiguous.
  try {
    find_pulled(cache_, *parse_model_name("acme/q"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("acme/q:a-Q4_K_M.gguf, acme/q:a-Q8_0.gguf"), std::string::npos) << e.what();
  }
  hub_.add_repo("acme/two", {{"x-Q8_0.gguf", "8", true}, {"x-F16.gguf", "f", true}});
  const std::string e = pull_error("acme/two");
  EXPECT_NE(e.find("none is Q4_K_M; name one as acme/two:FILE: x-Q8_0.gguf, x-F16.gguf"), std::string::npos) << e;
  hub_.add_repo("acme/none", {{"README.md", "hi"}});
  EXPECT_NE(pull_error("acme/none").find("neither config.json with *.safetensors nor a .gguf file"), std::string::npos);
}

}  // namespace
}  // namespace ax::hub
