#pragma once
// Paths the tests read: the repo and ../shared (fixtures and real models).
#include <string>

namespace ax::test {
std::string source_dir();  // the repo root
std::string shared_dir();  // ../shared beside the repo
std::string fixture(const std::string& rel);  // shared_dir() + "/fixtures/" + rel
std::string shared_model(const std::string& rel);  // shared_dir() + "/models/" + rel
}  // namespace ax::test
