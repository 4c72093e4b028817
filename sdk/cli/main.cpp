// kiln: the command line. `kiln <command> [<options>]`; see commands.hpp for adding a command.
//
// Exit status: 0 success, 1 an error Kiln raised, 2 a usage error (unknown command or option).
#include "commands.hpp"

#include <kiln/error.hpp>
#include <kiln/plugin/kiln_backend.h>
#include <kiln/version.hpp>

#include <algorithm>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

namespace kiln::cli {
namespace {

// Long options must be spelled out: guessing "--j" for "--json" would make adding an option
// a breaking change for scripts.
constexpr int kStyle = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;

// Options before the command name: --version and --help.
int run_global(const std::vector<std::string>& args) {
  po::options_description global("Options");
  global.add_options()("version", "print the version and exit")("help,h", "show this help and exit");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(global).style(kStyle).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what(), nullptr);
  }
  if (vm.count("version")) {
    std::cout << "kiln " << KILN_VERSION_STRING << " (plugin ABI " << KILN_ABI_VERSION << ")\n";
    return kExitOk;
  }
  print_usage(std::cout);
  return kExitOk;
}

int run_command(const Command& command, const std::vector<std::string>& args) {
  Options options = options_of(command);
  po::options_description all;
  all.add(options.visible).add(options.hidden);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(options.positional).style(kStyle).run(), vm);
    if (vm.count("help")) {
      print_command_help(std::cout, command);
      return kExitOk;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what(), &command);
  }
  try {
    return command.run(vm);
  } catch (const UsageError& e) {
    return usage_error(e.what(), &command);
  } catch (const po::error& e) {  // a command reading an option with the wrong type, say
    return usage_error(e.what(), &command);
  }
}

int main_impl(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage_error("no command given", nullptr);
  // Everything before the first word that is not an option belongs to kiln itself.
  size_t first = 0;
  while (first < args.size() && !args[first].empty() && args[first][0] == '-') ++first;
  if (first > 0) {
    bool only_help = std::all_of(args.begin(), args.begin() + first, [](const std::string& a) { return a == "-h" || a == "--help"; });
    if (only_help && first + 1 == args.size()) {  // `kiln --help plugins` reads as `kiln plugins --help`
      const Command* command = find_command(args[first]);
      if (command == nullptr) return unknown_command(args[first]);
      print_command_help(std::cout, *command);
      return kExitOk;
    }
    if (first < args.size())
      return usage_error("options before the command are only --version and --help; put '" + args[first - 1] +
                             "' after the command",
                         nullptr);
    return run_global(args);
  }
  const Command* command = find_command(args[0]);
  if (command == nullptr) return unknown_command(args[0]);
  return run_command(*command, std::vector<std::string>(args.begin() + 1, args.end()));
}

}  // namespace
}  // namespace kiln::cli

int main(int argc, char** argv) {
  try {
    return kiln::cli::main_impl(argc, argv);
  } catch (const kiln::InternalError& e) {
    std::cerr << "kiln: " << e.what() << "\n";
    return kiln::cli::kExitError;
  } catch (const kiln::Error& e) {
    std::cerr << "kiln: error: " << e.what() << "\n";
    return kiln::cli::kExitError;
  } catch (const std::exception& e) {
    std::cerr << "kiln: error: " << e.what() << "\n";
    return kiln::cli::kExitError;
  }
}
