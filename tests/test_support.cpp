#include "test_support.h"

namespace ax::test {
std::string source_dir() { return AX_SOURCE_DIR; }
std::string shared_dir() { return AX_SHARED_DIR; }
std::string fixture(const std::string& rel) { return shared_dir() + "/fixtures/" + rel; }
std::string shared_model(const std::string& rel) { return shared_dir() + "/models/" + rel; }
}  // namespace ax::test
