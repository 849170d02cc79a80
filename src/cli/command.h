#pragma once
// Subcommands register themselves here (one file per subcommand), so adding one touches no other
// file. setup() declares the subcommand's flags on its CLI11 App and returns what runs it.
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace ax::cli {

using CommandRun = std::function<int()>;
using CommandSetup = std::function<CommandRun(CLI::App& sub)>;

struct Command {
  std::string name;
  std::string help;
  CommandSetup setup;
};

std::vector<Command>& commands();

struct RegisterCommand {
  RegisterCommand(std::string name, std::string help, CommandSetup setup) {
    commands().push_back({std::move(name), std::move(help), std::move(setup)});
  }
};

// The bundled default model (models/ in the source tree) used when --model is not given.
std::string default_model_path();

}  // namespace ax::cli
