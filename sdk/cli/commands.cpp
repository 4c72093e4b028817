// The command registry and the help text every command shares.
#include "commands.hpp"

#include <kiln/plugin/kiln_backend.h>
#include <kiln/version.hpp>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <map>

namespace kiln::cli {

namespace {

// Keyed by name, so listings come out sorted. A function-local static: commands register during
// static initialisation, in whatever order the linker chose.
std::map<std::string, Command>& registry() {
  static std::map<std::string, Command> commands;
  return commands;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

bool register_command(const Command& command) {
  auto [it, inserted] = registry().emplace(command.name, command);
  if (!inserted) throw std::logic_error(std::string("kiln: two commands are named '") + command.name + "'");
  return true;
}

std::vector<const Command*> commands() {
  std::vector<const Command*> out;
  for (const auto& [name, command] : registry()) out.push_back(&command);
  return out;
}

const Command* find_command(const std::string& name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : &it->second;
}

std::string suggest_command(const std::string& name) {
  std::string best;
  size_t best_distance = 3;
  for (const auto& [candidate, command] : registry()) {
    size_t d = edit_distance(name, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

Options options_of(const Command& command) {
  Options options;
  if (command.declare) command.declare(options);
  options.visible.add_options()("help,h", "show this help and exit");
  return options;
}

void print_usage(std::ostream& os) {
  os << "usage: kiln [--version] [--help] <command> [<options>]\n\n"
     << "Kiln " << KILN_VERSION_STRING << ", a C++ deep-learning framework with run-time loaded backends.\n\n"
     << "Commands:\n";
  size_t width = 0;
  for (const Command* c : commands()) width = std::max(width, std::strlen(c->name));
  for (const Command* c : commands())
    os << "  " << c->name << std::string(width - std::strlen(c->name) + 3, ' ') << c->summary << "\n";
  os << "\nRun 'kiln help <command>' or 'kiln <command> --help' for a command's options.\n"
     << "Environment: KILN_PLUGIN_PATH (extra plugin folders or files, colon-separated), KILN_BACKEND\n"
     << "(the default device, e.g. cuda:0), KILN_LOG_LEVEL (debug, info, warn, error, off).\n";
}

void print_command_help(std::ostream& os, const Command& command) {
  os << "usage: " << command.usage << "\n\n" << command.summary << ".\n";
  if (command.description && *command.description) os << "\n" << command.description << "\n";
  os << "\n" << options_of(command).visible;
}

int usage_error(const std::string& message, const Command* command) {
  std::cerr << "kiln: " << message << "\n\n";
  if (command)
    print_command_help(std::cerr, *command);
  else
    print_usage(std::cerr);
  return kExitUsage;
}

int unknown_command(const std::string& name) {
  std::string message = "unknown command '" + name + "'";
  if (std::string near = suggest_command(name); !near.empty()) message += " (did you mean '" + near + "'?)";
  return usage_error(message, nullptr);
}

}  // namespace kiln::cli
