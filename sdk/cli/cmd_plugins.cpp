// kiln plugins [--json] [--ops]: the loaded backends, plugins that failed to load, the search path.
#include "commands.hpp"
#include "op_catalogue.hpp"
#include "text_table.hpp"

#include <kiln/device.hpp>
#include <kiln/plugin/kiln_backend.h>
#include <kiln/version.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

namespace kiln::cli {
namespace {

using nlohmann::json;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string op_count(const BackendInfo& b) {
  return std::to_string(b.supported_ops.size()) + "/" + std::to_string(KILN_OP_COUNT);
}

// "host CPU (cpu)"; identical devices are counted: "8 x NVIDIA H200 (gpu)".
std::string devices_cell(const BackendInfo& b) {
  if (b.devices.empty()) return "-";
  std::vector<std::pair<std::string, int>> groups;
  for (const auto& d : b.devices) {
    std::string label = d.name + " (" + d.kind + ")";
    if (!groups.empty() && groups.back().first == label)
      ++groups.back().second;
    else
      groups.emplace_back(label, 1);
  }
  std::string cell;
  for (const auto& [label, count] : groups)
    cell += (cell.empty() ? "" : ", ") + (count > 1 ? std::to_string(count) + " x " : "") + label;
  return cell;
}

bool supports(const BackendInfo& b, std::string_view op) {
  return std::find(b.supported_ops.begin(), b.supported_ops.end(), op) != b.supported_ops.end();
}

void print_search_path(std::ostream& os, const std::vector<std::string>& path) {
  os << "Search path (in order, KILN_PLUGIN_PATH entries first):\n";
  if (path.empty()) os << "  (empty)\n";
  for (const auto& entry : path) {
    std::error_code ec;
    os << "  " << entry << (std::filesystem::exists(entry, ec) ? "" : "  (does not exist)") << "\n";
  }
}

void print_text(const std::vector<BackendInfo>& backends, const std::vector<PluginFailure>& failures,
                const std::vector<std::string>& path) {
  auto& os = std::cout;
  if (backends.empty()) {
    os << "No backend plugin is loaded: Kiln cannot run any op. Build a backend (backends/ref), or point\n"
       << "KILN_PLUGIN_PATH at a folder of kiln_backend_*.so files.\n";
  } else {
    os << "Backends (" << backends.size() << " loaded, highest priority first; the op catalogue has "
       << KILN_OP_COUNT << " ops):\n";
    TextTable table({"BACKEND", "VERSION", "ABI", "PRIORITY", "DEVICES", "OPS", "FILE"});
    for (const auto& b : backends)
      table.add_row({b.name, b.version, std::to_string(b.abi_version), std::to_string(b.priority), devices_cell(b),
                     op_count(b), b.file});
    table.print(os);
  }
  bool any_note = std::any_of(backends.begin(), backends.end(), [](const auto& b) { return !b.status_note.empty(); });
  if (any_note) {
    os << "\nNotes:\n";
    for (const auto& b : backends)
      if (!b.status_note.empty()) os << "  " << b.name << ": " << b.status_note << "\n";
  }
  if (!failures.empty()) {
    os << "\nPlugins that failed to load (" << failures.size() << "):\n";
    for (const auto& f : failures) os << "  " << f.file << "\n      " << f.reason << "\n";
  }
  os << "\n";
  print_search_path(os, path);
}

// Ops down, backends across: which backend runs which op (for at least one dtype).
void print_matrix(const std::vector<BackendInfo>& backends) {
  auto& os = std::cout;
  os << "Op support (x: the backend runs the op for at least one dtype; ops it lacks fall back to\n"
     << "another host backend):\n";
  std::vector<std::string> header = {"OP", "KIND"};
  for (const auto& b : backends) header.push_back(b.name);
  TextTable table(header);
  for (const auto& op : catalogue()) {
    std::vector<std::string> row = {std::string(op.name), lower(op.kind)};
    for (const auto& b : backends) row.push_back(supports(b, op.name) ? "x" : ".");
    table.add_row(std::move(row));
  }
  std::vector<std::string> total = {"total", ""};
  for (const auto& b : backends) total.push_back(op_count(b));
  table.add_row(std::move(total));
  table.print(os);
  if (backends.empty()) os << "\n(no backend plugin is loaded; see `kiln plugins`)\n";
}

json to_json(const std::vector<BackendInfo>& backends, const std::vector<PluginFailure>& failures,
             const std::vector<std::string>& path) {
  json out;
  out["kiln_version"] = KILN_VERSION_STRING;
  out["abi_version"] = KILN_ABI_VERSION;
  out["op_count"] = KILN_OP_COUNT;
  out["backends"] = json::array();
  for (const auto& b : backends) {
    json devices = json::array();
    for (size_t i = 0; i < b.devices.size(); ++i) {
      const auto& d = b.devices[i];
      devices.push_back({{"index", i},
                         {"name", d.name},
                         {"kind", d.kind},
                         {"host_accessible", d.host_accessible},
                         {"total_memory", d.total_memory},
                         {"free_memory", d.free_memory},
                         {"compute_units", d.compute_units}});
    }
    out["backends"].push_back({{"name", b.name},
                               {"version", b.version},
                               {"abi_version", b.abi_version},
                               {"priority", b.priority},
                               {"score", b.score},
                               {"file", b.file},
                               {"status_note", b.status_note.empty() ? json(nullptr) : json(b.status_note)},
                               {"devices", devices},
                               {"ops_supported", b.supported_ops.size()},
                               {"supported_ops", b.supported_ops}});
  }
  out["failures"] = json::array();
  for (const auto& f : failures) out["failures"].push_back({{"file", f.file}, {"reason", f.reason}});
  out["search_path"] = path;
  out["ops"] = json::array();
  for (const auto& op : catalogue()) {
    json runners = json::array();
    for (const auto& b : backends)
      if (supports(b, op.name)) runners.push_back(b.name);
    out["ops"].push_back({{"name", op.name},
                          {"kind", lower(op.kind)},
                          {"inputs", op.num_inputs},
                          {"outputs", op.num_outputs},
                          {"backends", runners}});
  }
  return out;
}

void declare(Options& o) {
  o.visible.add_options()("json", "print everything as one JSON object (with every backend's supported ops)")(
      "ops", "print the op support matrix: catalogue ops x loaded backends");
}

int run(const po::variables_map& args) {
  // This command reports load failures itself; the loader's warnings on stderr would repeat them.
  setenv("KILN_LOG_LEVEL", "error", /*overwrite=*/0);
  std::vector<BackendInfo> backends = kiln::backends();
  std::vector<PluginFailure> failures = kiln::plugin_failures();
  std::vector<std::string> path = kiln::plugin_search_path();
  if (args.count("json")) {
    std::cout << to_json(backends, failures, path).dump(2) << "\n";
  } else if (args.count("ops")) {
    print_matrix(backends);
  } else {
    print_text(backends, failures, path);
  }
  return kExitOk;
}

}  // namespace

KILN_CLI_COMMAND(plugins,
                 {.name = "plugins",
                  .summary = "List the backend plugins, their devices and op support, and plugins that failed to load",
                  .usage = "kiln plugins [--json] [--ops]",
                  .description =
                      "Loads every plugin on the search path (KILN_PLUGIN_PATH, colon-separated folders or files,\n"
                      "then the kiln/backends folder beside libkiln) and shows, for each backend: its version, plugin\n"
                      "ABI, priority (host backends run an op in priority order), devices, how many catalogue ops it\n"
                      "runs, and its file. Then any notes (why a backend has no device), every plugin that failed to\n"
                      "load with the reason, and the search path.",
                  .declare = declare,
                  .run = run});

}  // namespace kiln::cli
