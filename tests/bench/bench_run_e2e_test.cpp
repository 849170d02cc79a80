// `ax-engine bench run` end to end on the bundled stories260K: a tiny manifest in-process and
// against a started server, each leaving a complete artifact folder; a nondeterministic token
// injected through the test hook makes --repeat fail with exit 3, an unreachable threshold exits
// 4, a manifest that cannot run exits 2. A few seconds in all.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "bench/manifest.h"
#include "server/server_process.h"
#include "test_support.h"

namespace ax::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class BenchRun : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(testing::TempDir()) / ("ax_bench_e2e_" + std::to_string(getpid()) + "_" +
                                           testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A tiny manifest: 6 requests, 3 at a time, two prefix groups, greedy.
  fs::path write_manifest(json checks = json::object()) {
    json m = {{"schema", "ax.bench.manifest.v1"},
              {"id", "tiny"},
              {"model", {{"path", source_dir() + "/models/stories260K/stories260K.gguf"}}},
              {"runtime", {{"threads", 2}, {"kv_pool_mb", 8}}},
              {"shape", {{"requests", 6}, {"concurrency", 3}, {"input_tokens", {{"min", 20}, {"max", 40}}},
                         {"output_tokens", 12}, {"shared_prefix_fraction", 0.5}, {"prefix_groups", 2}}},
              {"checks", checks}};
    const fs::path p = dir_ / "tiny.json";
    std::ofstream(p) << m.dump(2);
    return p;
  }

  // Runs `ax-engine bench run` with args, artifacts under dir/out_name; returns {exit status, stderr}.
  std::pair<int, std::string> bench_run(std::vector<std::string> args, const std::string& out_name = "out") {
    std::vector<std::string> cmd = {AX_ENGINE_BINARY, "bench", "run", "--out", (dir_ / out_name).string(), "--no-progress"};
    cmd.insert(cmd.end(), args.begin(), args.end());
    return run_capture_stderr(cmd);
  }

  // The one artifact folder under out/.
  fs::path artifact() {
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(dir_ / "out")) dirs.push_back(e.path());
    EXPECT_EQ(dirs.size(), 1u);
    return dirs.empty() ? fs::path() : dirs[0];
  }

  static json read_json(const fs::path& p) {
    std::ifstream f(p);
    EXPECT_TRUE(f) << p;
    return json::parse(f);
  }

  // Every file is there and consistent with a greedy 6-request workload run `repeats` times.
  void check_artifact(const fs::path& a, int repeats, const std::string& target_kind) {
    EXPECT_TRUE(std::regex_match(a.filename().string(), std::regex(R"(\d{8}T\d{6}Z-[0-9a-f]{8}-tiny)"))) << a;
    const json manifest = read_json(a / "manifest.json");
    EXPECT_EQ(manifest["id"], "tiny");
    EXPECT_EQ(manifest["shape"]["requests"], 6);
    const json env = read_json(a / "environment.json");
    EXPECT_EQ(env["target"]["kind"], target_kind);
    EXPECT_EQ(env["model"]["architecture"], "llama");
    EXPECT_FALSE(env["machine"]["cpu"]["features"].get<std::string>().empty());
    EXPECT_EQ(env["build"]["commit"].get<std::string>().size(), 40u);
    const json metrics = read_json(a / "metrics.json");
    EXPECT_EQ(metrics["runs"].size(), static_cast<size_t>(repeats));
    EXPECT_EQ(metrics["summary"]["requests_ok"], 6);
    EXPECT_EQ(metrics["summary"]["output_tokens"], 6 * 12);
    EXPECT_GT(metrics["summary"]["throughput_tok_s"].get<double>(), 0);
    EXPECT_GT(metrics["summary"]["ttft_p50_ms"].get<double>(), 0);
    EXPECT_GT(metrics["summary"]["cached_tokens"].get<double>(), 0) << "the second request of each group reuses its prefix";
    EXPECT_EQ(metrics["exit_code"], 0);
    std::ifstream req(a / "requests.jsonl");
    int lines = 0;
    std::map<std::string, std::string> digest_of_request;
    for (std::string line; std::getline(req, line); ++lines) {
      const json r = json::parse(line);
      EXPECT_EQ(r["output_ids"].size(), 12u);
      EXPECT_EQ(r["finish_reason"], "length");
      EXPECT_EQ(r["digest"].get<std::string>().size(), 16u);
      auto [it, fresh] = digest_of_request.emplace(r["request"], r["digest"]);
      if (!fresh) {
        EXPECT_EQ(it->second, r["digest"]) << "greedy outputs are the same in every run";
      }
    }
    EXPECT_EQ(lines, 6 * repeats);
    const json trace = read_json(a / "trace.json");
    int spans = 0;
    for (const json& e : trace["traceEvents"]) spans += e["ph"] == "X";
    EXPECT_GE(spans, 6 * 2 * repeats) << "each request's waiting and decoding spans";
    std::ifstream md(a / "summary.md");
    const std::string summary((std::istreambuf_iterator<char>(md)), {});
    EXPECT_NE(summary.find("# tiny"), std::string::npos);
    EXPECT_NE(summary.find("| expect_deterministic | pass |"), std::string::npos) << summary;
  }

  fs::path dir_;
};

TEST_F(BenchRun, InProcessWritesTheArtifactFolder) {
  const fs::path m = write_manifest({{"expect_deterministic", true}, {"require_prefix_reuse", true}});
  auto [status, err] = bench_run({m.string()});
  ASSERT_EQ(status, 0) << err;
  const fs::path a = artifact();
  check_artifact(a, 2, "in-process");
  const json trace = read_json(a / "trace.json");
  bool step = false;
  for (const json& e : trace["traceEvents"]) step = step || e["name"] == "step";
  EXPECT_TRUE(step) << "in-process traces hold the engine's steps";
  EXPECT_NE(read_json(a / "metrics.json")["summary"]["peak_rss_mb"], nullptr);
}

TEST_F(BenchRun, AgainstAServerThroughTheSameClient) {
  ServerProcess server(source_dir() + "/models/stories260K/stories260K.gguf", {"--kv-memory-mb", "8"});
  const fs::path m = write_manifest({{"expect_deterministic", true}});
  auto [status, err] = bench_run({m.string(), "--url", "http://127.0.0.1:" + std::to_string(server.port())});
  ASSERT_EQ(status, 0) << err;
  const fs::path a = artifact();
  check_artifact(a, 2, "url");
  const json env = read_json(a / "environment.json");
  EXPECT_EQ(env["target"]["server"]["api"], "ax");
  EXPECT_EQ(env["target"]["name"], "ax-engine serve");
}

TEST_F(BenchRun, AnInjectedNondeterministicTokenFailsRepeatWithExit3) {
  const fs::path m = write_manifest({{"expect_deterministic", true}});
  auto [status, err] = bench_run({m.string(), "--repeat", "3", "--perturb", "2:4:5"});
  EXPECT_EQ(status, 3) << err;
  const json metrics = read_json(artifact() / "metrics.json");
  bool seen = false;
  for (const json& c : metrics["checks"])
    if (c["name"] == "expect_deterministic") {
      seen = true;
      EXPECT_EQ(c["status"], "FAIL");
      EXPECT_NE(c["detail"].get<std::string>().find("request r0004 differs in run 2 from run 0 at output position 5"),
                std::string::npos) << c["detail"];
    }
  EXPECT_TRUE(seen);
}

TEST_F(BenchRun, AThresholdAboveTheMachineExits4) {
  const fs::path m = write_manifest({{"thresholds", {"decode_tok_s >= 1e12"}}});
  auto [status, err] = bench_run({m.string()});
  EXPECT_EQ(status, 4) << err;
  EXPECT_NE(err.find("checks failed (exit 4)"), std::string::npos) << err;
}

TEST_F(BenchRun, UsageErrorsExit1) {
  auto [status, err] = bench_run({write_manifest().string(), "--repeat", "zero"});
  EXPECT_EQ(status, 1) << err;
  EXPECT_NE(err.find("--repeat"), std::string::npos) << err;
}

TEST_F(BenchRun, AManifestThatCannotRunExits2WithTheReason) {
  json m = json::parse(std::ifstream(write_manifest()));
  m["model"]["sha256"] = std::string(64, '0');
  std::ofstream(dir_ / "sha.json") << m.dump();
  auto [status, err] = bench_run({(dir_ / "sha.json").string()});
  EXPECT_EQ(status, 2) << err;
  EXPECT_NE(err.find("model.sha256 is 0000"), std::string::npos) << err;
  m["model"].erase("sha256");
  m["shape"]["input_tokens"] = 5000;  // past stories260K's 2048-token context
  std::ofstream(dir_ / "long.json") << m.dump();
  std::tie(status, err) = bench_run({(dir_ / "long.json").string()});
  EXPECT_EQ(status, 2) << err;
  EXPECT_NE(err.find("has a prompt of 5000 tokens but a sequence holds at most"), std::string::npos) << err;
}

TEST_F(BenchRun, CompareJudgesTwoArtifactFolders) {
  const fs::path m = write_manifest();
  ASSERT_EQ(bench_run({m.string()}, "a").first, 0);
  ASSERT_EQ(bench_run({m.string()}, "b").first, 0);
  const fs::path a = fs::directory_iterator(dir_ / "a")->path(), b = fs::directory_iterator(dir_ / "b")->path();
  // Timings of two tiny runs differ by any amount; a limit of 10000 % lets only the machinery speak.
  auto [status, err] = run_capture_stderr({AX_ENGINE_BINARY, "bench", "compare", a.string(), b.string(), "--max-regression", "10000%"});
  EXPECT_EQ(status, 0) << err;
  std::ifstream md(b / "comparison.md");
  const std::string text((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(text.find("- manifests: identical"), std::string::npos) << text;
  EXPECT_NE(text.find("| throughput_tok_s | "), std::string::npos) << text;
  // Another manifest is refused (exit 2) unless allowed.
  json other = json::parse(std::ifstream(m));
  other["shape"]["requests"] = 4;
  std::ofstream(dir_ / "other.json") << other.dump();
  ASSERT_EQ(bench_run({(dir_ / "other.json").string()}, "c").first, 0);
  const fs::path c = fs::directory_iterator(dir_ / "c")->path();
  std::tie(status, err) = run_capture_stderr({AX_ENGINE_BINARY, "bench", "compare", a.string(), c.string()});
  EXPECT_EQ(status, 2) << err;
  EXPECT_NE(err.find("different manifests"), std::string::npos) << err;
}

TEST_F(BenchRun, PlotWritesWellFormedSvgFiles) {
  ASSERT_EQ(bench_run({write_manifest().string()}).first, 0);
  const fs::path plots = dir_ / "plots";
  auto [status, err] = run_capture_stderr({AX_ENGINE_BINARY, "bench", "plot", artifact().string(), "--out", plots.string()});
  ASSERT_EQ(status, 0) << err;
  for (const char* name : {"ttft_cdf.svg", "itl_cdf.svg", "e2e_cdf.svg", "throughput_vs_concurrency.svg",
                           "ttft_over_time.svg", "step_trace_0.svg", "index.html"}) {
    ASSERT_TRUE(fs::exists(plots / name)) << name;
    if (std::string(name).ends_with(".svg") && fs::exists("/usr/bin/python3")) {  // XML a browser can load
      auto [ok, why] = run_capture_stderr({"/usr/bin/python3", "-c", "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])",
                                           (plots / name).string()});
      EXPECT_EQ(ok, 0) << name << ": " << why;
    }
  }
}

}  // namespace
}  // namespace ax::test
