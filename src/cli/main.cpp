// ax-engine: one binary, one subcommand per file in this folder.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "cli/command.h"
#include "util/error.h"

namespace ax::cli {

std::vector<Command>& commands() {
  static std::vector<Command> all;
  return all;
}

std::string default_model_path() {
  // Installed next to the binary's source tree; AX_MODEL_DIR overrides.
  if (const char* env = std::getenv("AX_DEFAULT_MODEL")) return env;
  return std::string(AX_SOURCE_DIR) + "/models/stories260K/stories260K.gguf";
}

}  // namespace ax::cli

int main(int argc, char** argv) {
  using namespace ax::cli;
  CLI::App app{"AX Engine: local LLM inference"};
  app.require_subcommand(1);
  auto& cmds = commands();
  std::sort(cmds.begin(), cmds.end(), [](auto& a, auto& b) { return a.name < b.name; });
  std::map<CLI::App*, CommandRun> runs;
  for (auto& c : cmds) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    runs[sub] = c.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and version exit 0; any usage error exits 1 (CLI11's own codes are not part of our
    // interface).
    return app.exit(e) == 0 ? 0 : 1;
  }
  try {
    for (auto& [sub, run] : runs)
      if (sub->parsed()) return run();
  } catch (const ax::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
