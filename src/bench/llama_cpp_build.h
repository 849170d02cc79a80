#pragma once
// What the llama.cpp peer binaries were built for, so that its numbers are reported with the ISA
// that produced them (bench speed, doctor). scripts/build-llama-cpp.sh picks the ISA options from
// the host's CPU flags or caps them (LLAMA_CPP_ISA); the build folder's CMakeCache.txt records them.
#include <string>

namespace ax::bench {

// The ISA options ON in the CMakeCache.txt of the build folder above bin_dir (bin_dir/..), in the
// build script's words: "SSE4.2 AVX AVX2 FMA F16C BMI2", "... AVX-512 AVX512-VNNI ...", "native
// (-march=native)" for GGML_NATIVE=ON, "no x86 ISA option on"; "" where there is no such cache
// (binaries from elsewhere).
std::string llama_cpp_build_isa(const std::string& bin_dir);

}  // namespace ax::bench
