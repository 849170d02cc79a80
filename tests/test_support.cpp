#include "test_support.h"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>

namespace ax::test {
// The environment may point elsewhere (a machine where ../shared is not beside the repo: the GPU
// hosts get a copy of the fixtures).
std::string source_dir() { return std::getenv("AX_SOURCE_DIR") ? std::getenv("AX_SOURCE_DIR") : AX_SOURCE_DIR; }
std::string shared_dir() { return std::getenv("AX_SHARED_DIR") ? std::getenv("AX_SHARED_DIR") : AX_SHARED_DIR; }
std::string fixture(const std::string& rel) { return shared_dir() + "/fixtures/" + rel; }
std::string shared_model(const std::string& rel) { return shared_dir() + "/models/" + rel; }

void write_safetensors(const std::filesystem::path& path, const std::vector<StTensor>& ts) {
  nlohmann::json header = nlohmann::json::object();
  size_t offset = 0;
  for (const StTensor& t : ts) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  const std::string h = header.dump();
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = h.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out.write(h.data(), static_cast<std::streamsize>(h.size()));
  for (const StTensor& t : ts) out.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
}
}  // namespace ax::test
