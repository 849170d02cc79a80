#include "test_support.h"

#include <cstdlib>

namespace ax::test {
// The environment may point elsewhere (a machine where ../shared is not beside the repo: the GPU
// hosts get a copy of the fixtures).
std::string source_dir() { return std::getenv("AX_SOURCE_DIR") ? std::getenv("AX_SOURCE_DIR") : AX_SOURCE_DIR; }
std::string shared_dir() { return std::getenv("AX_SHARED_DIR") ? std::getenv("AX_SHARED_DIR") : AX_SHARED_DIR; }
std::string fixture(const std::string& rel) { return shared_dir() + "/fixtures/" + rel; }
std::string shared_model(const std::string& rel) { return shared_dir() + "/models/" + rel; }
}  // namespace ax::test
