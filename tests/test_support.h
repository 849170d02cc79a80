#pragma once
// Paths the tests read: the repo and ../shared (fixtures and real models).
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace ax::test {
std::string source_dir();  // the repo root
std::string shared_dir();  // ../shared beside the repo
std::string fixture(const std::string& rel);  // shared_dir() + "/fixtures/" + rel
std::string shared_model(const std::string& rel);  // shared_dir() + "/models/" + rel

// A minimal safetensors writer: (name, dtype string, shape, bytes) in the given order.
struct StTensor {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};
void write_safetensors(const std::filesystem::path& path, const std::vector<StTensor>& ts);

// A fresh 64-bit seed for every run; print it on failure to reproduce.
inline uint64_t fresh_seed() { return (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}(); }

// Fresh random data for every run (never all zeros); print `seed` on failure to reproduce.
struct Rand {
  uint32_t seed = std::random_device{}();
  std::mt19937 gen{seed};
  std::vector<float> normal(size_t n, float sd = 1.0f) {
    std::normal_distribution<float> d(0.0f, sd);
    std::vector<float> v(n);
    for (auto& x : v) x = d(gen);
    return v;
  }
};

}  // namespace ax::test
