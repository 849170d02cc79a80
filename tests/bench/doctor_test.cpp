// ax-engine doctor (bench/doctor.h): models found and validated (or refused with the reason),
// the findings each machine trait leads to, and the command's text and JSON.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "backend/cpu/kernels/kernels.h"
#include "bench/doctor.h"
#include "server/server_process.h"
#include "test_support.h"

namespace ax::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool has_finding(const std::vector<Finding>& f, Level level, const std::string& part) {
  for (const Finding& x : f)
    if (x.level == level && x.what.find(part) != std::string::npos) return true;
  return false;
}

TEST(Doctor, FindsTheBundledModelsAndSaysWhyOthersCannotRun) {
  const fs::path dir = fs::path(testing::TempDir()) / ("ax_doctor_" + std::to_string(getpid()));
  fs::create_directories(dir / "broken");
  std::ofstream(dir / "broken" / "junk.gguf") << "not a gguf";
  const json models = scan_models({test::source_dir() + "/models", dir.string()});
  ASSERT_EQ(models.size(), 3u) << models.dump(2);
  EXPECT_EQ(models[0]["architecture"], "qwen3");  // models/ax-code-15m (a folder with config.json)
  EXPECT_EQ(models[0]["format"], "safetensors");
  EXPECT_NEAR(models[0]["parameters"].get<double>(), 15.7e6, 0.1e6);
  EXPECT_EQ(models[1]["architecture"], "llama");  // models/stories260K/stories260K.gguf
  EXPECT_EQ(models[1]["context"], 2048);
  EXPECT_FALSE(models[2]["ok"].get<bool>());
  EXPECT_NE(models[2]["error"].get<std::string>().find("junk.gguf"), std::string::npos);
  const auto f = model_findings(models, 1e6);
  EXPECT_TRUE(has_finding(f, Level::Problem, "cannot run " + (dir / "broken" / "junk.gguf").string()));
  EXPECT_TRUE(has_finding(model_findings(models, 10), Level::Warning, "MB for its weights but 10 MB are available"));
  // A vocabulary-only GGUF opens but has no weights.
  const json vocab = scan_models({test::shared_model("llamacpp-vocab/ggml-vocab-qwen2.gguf")});
  ASSERT_EQ(vocab.size(), 1u);
  EXPECT_NE(vocab[0]["error"].get<std::string>().find("no weights"), std::string::npos);
  fs::remove_all(dir);
}

TEST(Doctor, MachineTraitsLeadToFindings) {
  json m = {{"cpu", {{"kernels", "scalar reference"}}},
            {"memory", {{"available_mb", 1000.0}, {"read_bandwidth_gb_s", 40.0}}},
            {"huge_pages", {{"transparent", "never"}}},
            {"gpus", {{{"name", "NVIDIA H100"}}}}};
  const auto f = machine_findings(m);
  EXPECT_TRUE(has_finding(f, Level::Problem, "only the scalar reference kernels"));
  EXPECT_TRUE(has_finding(f, Level::Warning, "only 1000 MB of memory available"));
  EXPECT_TRUE(has_finding(f, Level::Info, "a 4 GB model decodes at most about 10 tokens/s"));
  EXPECT_TRUE(has_finding(f, Level::Warning, "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled"));
  EXPECT_TRUE(has_finding(f, Level::Warning, "NVIDIA H100"));
  for (const char* kernels : {"avx512-vnni packed tiles", "avx2 packed tiles (vpmaddubsw)"}) {
    m = {{"cpu", {{"kernels", kernels}}}, {"memory", {{"available_mb", 9000.0}}},
         {"huge_pages", {{"transparent", "madvise"}}}, {"gpus", json::array()}};
    for (const Finding& x : machine_findings(m)) EXPECT_EQ(x.level, Level::Ok) << x.what;
  }
  // A tier capped by AX_CPU_TIER (A/B runs) is not a setting to leave on.
  m["cpu"]["kernels"] = "avx2 packed tiles (vpmaddubsw) (capped by AX_CPU_TIER; this CPU runs avx512)";
  EXPECT_TRUE(has_finding(machine_findings(m), Level::Warning, "unset AX_CPU_TIER"));
}

TEST(Doctor, CommandPrintsTextAndJson) {
  auto [status, err] = test::run_capture_stderr({AX_ENGINE_BINARY, "doctor", "--no-bandwidth", "--json", "--bogus"});
  EXPECT_EQ(status, 1) << "a usage error";
  // The text and JSON go to stdout: run through sh to capture it.
  const fs::path out = fs::path(testing::TempDir()) / ("ax_doctor_out_" + std::to_string(getpid()));
  const std::string cmd = std::string(AX_ENGINE_BINARY) + " doctor --no-bandwidth --json > " + out.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const json report = json::parse(std::ifstream(out));
  EXPECT_FALSE(report["machine"]["cpu"]["features"].get<std::string>().empty());
  EXPECT_GE(report["models"].size(), 2u);
  EXPECT_FALSE(report["findings"].empty());
  ASSERT_EQ(std::system((std::string(AX_ENGINE_BINARY) + " doctor --no-bandwidth > " + out.string()).c_str()), 0);
  std::ifstream text(out);
  const std::string s((std::istreambuf_iterator<char>(text)), {});
  for (const char* line : {"cpu        ", "memory     ", "huge pages ", "models     ", "findings"})
    EXPECT_NE(s.find(line), std::string::npos) << line << "\n" << s;
  fs::remove(out);
}

// The kernel tier in use is named in the machine section (text and JSON), and a tier capped by
// AX_CPU_TIER is named as such, with a warning (the scalar tier runs on every machine).
TEST(Doctor, NamesTheKernelTierInUse) {
  const fs::path out = fs::path(testing::TempDir()) / ("ax_doctor_tier_" + std::to_string(getpid()));
  const std::string doctor = std::string(AX_ENGINE_BINARY) + " doctor --no-bandwidth";
  ASSERT_EQ(std::system((doctor + " --json > " + out.string()).c_str()), 0);
  json report = json::parse(std::ifstream(out));
  EXPECT_EQ(report["machine"]["cpu"]["kernels"], cpu::kernels::kernel_tier_description());
  EXPECT_EQ(report["machine"]["backends"]["cpu"]["kernel_tier"], cpu::kernels::kernel_tier());

  ASSERT_EQ(std::system(("AX_CPU_TIER=scalar " + doctor + " --json > " + out.string()).c_str()), 0);
  report = json::parse(std::ifstream(out));
  EXPECT_EQ(report["machine"]["backends"]["cpu"]["kernel_tier"], "scalar");
  const std::string kernels = report["machine"]["cpu"]["kernels"];
  EXPECT_EQ(kernels.rfind("scalar reference", 0), 0u) << kernels;
  if (cpu::kernels::isa_supported(cpu::kernels::Isa::Avx2)) {
    EXPECT_NE(kernels.find("(capped by AX_CPU_TIER; this CPU runs avx"), std::string::npos) << kernels;
    ASSERT_EQ(std::system(("AX_CPU_TIER=scalar " + doctor + " > " + out.string()).c_str()), 0);
    std::ifstream text(out);
    const std::string s((std::istreambuf_iterator<char>(text)), {});
    EXPECT_NE(s.find("kernels: scalar reference (capped by AX_CPU_TIER"), std::string::npos) << s;
    EXPECT_NE(s.find("unset AX_CPU_TIER for full speed"), std::string::npos) << s;
  }
  fs::remove(out);
}

// The llama.cpp peer's line says what its binaries were built for (AX_LLAMA_CPP_BIN names them).
TEST(Doctor, SaysWhatTheLlamaCppPeerWasBuiltFor) {
  const fs::path dir = fs::path(testing::TempDir()) / ("ax_doctor_llama_" + std::to_string(getpid()));
  fs::create_directories(dir / "bin");
  std::ofstream(dir / "CMakeCache.txt") << "GGML_AVX2:BOOL=ON\nGGML_AVX512:BOOL=OFF\nGGML_FMA:BOOL=ON\n";
  const fs::path out = dir / "doctor.txt";
  const std::string doctor = "AX_LLAMA_CPP_BIN=" + (dir / "bin").string() + " " + AX_ENGINE_BINARY + " doctor --no-bandwidth";
  ASSERT_EQ(std::system((doctor + " --json > " + out.string()).c_str()), 0);
  EXPECT_EQ(json::parse(std::ifstream(out))["llama_cpp"]["isa"], "AVX2 FMA");
  ASSERT_EQ(std::system((doctor + " > " + out.string()).c_str()), 0);
  std::ifstream text(out);
  const std::string s((std::istreambuf_iterator<char>(text)), {});
  EXPECT_NE(s.find("           built for: AVX2 FMA\n"), std::string::npos) << s;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ax::bench
