#pragma once
// A model folder whose chat template thinks: the bundled ax-code-15m's files with
// tests/fixtures/thinking-template/tokenizer_config.json (Qwen3's template, opening "<think>\n" in
// the generation prompt unless enable_thinking is false) in place of its own. Made once per test
// process in a temporary folder of symlinks.
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "test_support.h"

namespace ax::test {

inline std::string thinking_model() {
  // Removed when the test process exits.
  struct Folder {
    std::string path;
    ~Folder() {
      std::error_code ec;
      if (!path.empty()) std::filesystem::remove_all(std::filesystem::path(path).parent_path(), ec);
    }
  };
  static const Folder dir{[] {
    namespace fs = std::filesystem;
    const fs::path src = fs::path(source_dir()) / "models" / "ax-code-15m";
    const fs::path out = fs::temp_directory_path() / ("ax-thinking-model-" + std::to_string(getpid()));
    fs::remove_all(out);
    fs::create_directories(out / "ax-code-15m-thinking");
    const fs::path model = out / "ax-code-15m-thinking";
    for (const auto& entry : fs::directory_iterator(src))
      if (entry.path().filename() != "tokenizer_config.json") fs::create_symlink(entry.path(), model / entry.path().filename());
    fs::copy_file(fs::path(source_dir()) / "tests/fixtures/thinking-template/tokenizer_config.json",
                  model / "tokenizer_config.json");
    return model.string();
  }()};
  return dir.path;
}

}  // namespace ax::test
