// The ISA the llama.cpp peer was built for (bench/llama_cpp_build.h), read from its build
// folder's CMakeCache.txt as scripts/build-llama-cpp.sh writes it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "bench/llama_cpp_build.h"

namespace ax::bench {
namespace {

namespace fs = std::filesystem;

// A build folder with bin/ and a CMakeCache.txt holding `cache`; returns bin/.
fs::path build_with_cache(const std::string& name, const std::string& cache) {
  const fs::path dir = fs::path(testing::TempDir()) / (name + "_" + std::to_string(getpid()));
  fs::create_directories(dir / "bin");
  std::ofstream(dir / "CMakeCache.txt") << cache;
  return dir / "bin";
}

TEST(LlamaCppBuild, NamesTheIsaOptionsThatAreOn) {
  // An AVX2-only build (LLAMA_CPP_ISA=avx2): the AVX-512 options are there but OFF.
  const fs::path avx2 = build_with_cache("llama_avx2",
                                         "GGML_AVX:BOOL=ON\nGGML_AVX2:BOOL=ON\nGGML_AVX512:BOOL=OFF\n"
                                         "GGML_AVX512_VNNI:BOOL=OFF\nGGML_FMA:BOOL=ON\nGGML_F16C:BOOL=ON\n"
                                         "GGML_AVX_VNNI:BOOL=OFF\nGGML_NATIVE:BOOL=OFF\nGGML_OPENMP:BOOL=ON\n"
                                         "//GGML_AVX512: a comment\nLLAMA_AVX512:BOOL=ON\n");
  EXPECT_EQ(llama_cpp_build_isa(avx2.string()), "AVX AVX2 FMA F16C");
  EXPECT_EQ(llama_cpp_build_isa(avx2.string() + "/"), "AVX AVX2 FMA F16C");
  const fs::path wide = build_with_cache("llama_avx512",
                                         "GGML_AMX_INT8:BOOL=OFF\nGGML_AVX512_VNNI:BOOL=ON\nGGML_AVX512:BOOL=ON\n"
                                         "GGML_AVX2:BOOL=ON\nGGML_AVX_VNNI:BOOL=ON\n");
  EXPECT_EQ(llama_cpp_build_isa(wide.string()), "AVX2 AVX-VNNI AVX-512 AVX512-VNNI");
  const fs::path native = build_with_cache("llama_native", "GGML_NATIVE:BOOL=ON\nGGML_AVX2:BOOL=ON\n");
  EXPECT_EQ(llama_cpp_build_isa(native.string()), "native (-march=native)");
  const fs::path none = build_with_cache("llama_none", "GGML_AVX2:BOOL=OFF\n");
  EXPECT_EQ(llama_cpp_build_isa(none.string()), "no x86 ISA option on");
  for (const fs::path& p : {avx2, wide, native, none}) fs::remove_all(p.parent_path());
}

TEST(LlamaCppBuild, BinariesWithoutABuildFolderSayNothing) {
  EXPECT_EQ(llama_cpp_build_isa((fs::path(testing::TempDir()) / "no_such_llama" / "bin").string()), "");
}

}  // namespace
}  // namespace ax::bench
