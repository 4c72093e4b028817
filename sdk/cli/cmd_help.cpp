// kiln help [<command>]: the command list, or one command's usage and options.
#include "commands.hpp"

#include <iostream>

namespace kiln::cli {
namespace {

void declare(Options& o) {
  o.hidden.add_options()("command", po::value<std::string>(), "the command to describe");
  o.positional.add("command", 1);
}

int run(const po::variables_map& args) {
  if (!args.count("command")) {
    print_usage(std::cout);
    return kExitOk;
  }
  const auto& name = args["command"].as<std::string>();
  const Command* command = find_command(name);
  if (command == nullptr) return unknown_command(name);
  print_command_help(std::cout, *command);
  return kExitOk;
}

}  // namespace

KILN_CLI_COMMAND(help, {.name = "help",
                        .summary = "Show the commands, or one command's usage and options",
                        .usage = "kiln help [<command>]",
                        .declare = declare,
                        .run = run});

}  // namespace kiln::cli
