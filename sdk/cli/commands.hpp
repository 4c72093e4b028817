// The `kiln` command line's command registry.
//
// A command is one file, sdk/cli/cmd_<name>.cpp, that defines a Command and registers it at static
// initialisation time:
//
//   namespace kiln::cli {
//   namespace {
//   void declare(Options& o) { o.visible.add_options()("epochs", po::value<int>()->default_value(5), "..."); }
//   int run(const po::variables_map& vm) { ...; return kExitOk; }
//   }  // namespace
//   KILN_CLI_COMMAND(train, {.name = "train", .summary = "...", .usage = "kiln train [options] <model>",
//                            .description = "...", .declare = declare, .run = run});
//   }  // namespace kiln::cli
//
// main() parses the command's options with Boost.Program_options and maps errors to exit codes:
// 0 success, 1 an error Kiln raised (kiln::Error: "kiln: error: <message>"), 2 a usage error
// (unknown command or option, bad value: the message, then the command's usage).
#pragma once

#include <boost/program_options.hpp>

#include <chrono>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::cli {

namespace po = boost::program_options;

// Seconds of wall time since start (steady clock), for the commands' timings.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

// What a command accepts. `visible` is listed by `kiln help <command>`; `hidden` holds the options
// that positional arguments bind to (listed through the usage line instead).
struct Options {
  po::options_description visible{"Options"};
  po::options_description hidden;
  po::positional_options_description positional;
};

struct Command {
  const char* name = "";
  const char* summary = "";      // one line, shown by `kiln help`
  const char* usage = "";        // "kiln plugins [--json] [--ops]"
  const char* description = "";  // a paragraph shown by `kiln help <command>`; may be empty
  void (*declare)(Options& options) = nullptr;  // may be null: no options but --help
  int (*run)(const po::variables_map& args) = nullptr;  // returns the exit status
};

// Thrown by a command for a bad argument that program_options cannot check; exits with status 2
// and the command's usage.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Adds a command; returns true so it can initialise a static. Names must be unique.
bool register_command(const Command& command);
// All commands, sorted by name.
std::vector<const Command*> commands();
// The command of that name, or null.
const Command* find_command(const std::string& name);
// The closest command name within two edits, or "" (for "did you mean ...?").
std::string suggest_command(const std::string& name);

// The command's options, with -h/--help added.
Options options_of(const Command& command);
// "usage: kiln [--version] [--help] <command> [<args>]" and the command list.
void print_usage(std::ostream& os);
// Usage line, description and options of one command.
void print_command_help(std::ostream& os, const Command& command);
// Prints "kiln: <message>" and the usage (the command's, or kiln's when command is null) to stderr;
// returns kExitUsage.
int usage_error(const std::string& message, const Command* command);
// usage_error for a word that names no command, with a suggestion when one is close.
int unknown_command(const std::string& name);

}  // namespace kiln::cli

#define KILN_CLI_COMMAND(id, ...) \
  [[maybe_unused]] static const bool kiln_cli_command_##id = ::kiln::cli::register_command(::kiln::cli::Command __VA_ARGS__)
