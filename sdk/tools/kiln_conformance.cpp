// kiln-conformance PLUGIN.so [--json] [--ops a,b] [--seed N] [--verbose]
//
// Loads one backend plugin file and runs the whole op conformance suite (kiln/conformance.hpp)
// on it against the reference backend "ref": every op of ops.def the plugin claims (supports())
// over odd shapes, broadcasts, strided views, empty tensors and error cases, per dtype. Prints a
// pass/fail table per op and dtype, or JSON. Ops the plugin does not claim are skipped (they run
// on another backend by fallback) and do not fail the run.
//
// Exit status: 0 when every claimed op passes; 1 when a case failed; 2 when the plugin or "ref"
// cannot be loaded or the arguments are wrong.
#include <kiln/conformance.hpp>
#include <kiln/device.hpp>
#include <kiln/error.hpp>
#include <kiln/version.hpp>

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

constexpr const char* kUsage =
    "usage: kiln-conformance PLUGIN.so [--json] [--ops a,b,...] [--seed N] [--verbose]\n"
    "\n"
    "Runs Kiln's op conformance suite on the backend plugin in PLUGIN.so, comparing each op it\n"
    "claims with the reference backend 'ref' (from the plugin folder beside libkiln or\n"
    "KILN_PLUGIN_PATH), and prints a pass/fail table per op and dtype.\n"
    "\n"
    "  --json         print the results as JSON ({\"summary\": ..., \"results\": [...]})\n"
    "  --ops a,b      only these ops (ops.def names: add, matmul, conv2d, ...)\n"
    "  --seed N       mix N into the generated inputs (default 0)\n"
    "  --verbose      one line per case on stderr while running\n"
    "\n"
    "Exit status: 0 all claimed ops pass, 1 a case failed, 2 the plugin or ref did not load.\n";

struct Args {
  std::string plugin;
  bool json = false;
  bool verbose = false;
  uint64_t seed = 0;
  std::vector<std::string> ops;
};

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// Returns false (after printing why) on a usage error.
bool parse(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string& flag) -> std::string {
      if (auto eq = a.find('='); eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= argc) throw std::runtime_error(flag + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else if (a == "--json") {
      args.json = true;
    } else if (a == "--verbose" || a == "-v") {
      args.verbose = true;
    } else if (a == "--ops" || a.rfind("--ops=", 0) == 0) {
      for (auto& op : split_commas(value("--ops"))) args.ops.push_back(op);
    } else if (a == "--seed" || a.rfind("--seed=", 0) == 0) {
      args.seed = std::stoull(value("--seed"));
    } else if (!a.empty() && a[0] == '-') {
      throw std::runtime_error("unknown option '" + a + "'");
    } else if (args.plugin.empty()) {
      args.plugin = a;
    } else {
      throw std::runtime_error("one plugin file at a time (got '" + args.plugin + "' and '" + a + "')");
    }
  }
  if (args.plugin.empty()) throw std::runtime_error("no plugin file given");
  return true;
}

std::string canonical(const std::string& path) {
  std::error_code ec;
  auto p = fs::weakly_canonical(fs::path(path), ec);
  return ec ? path : p.string();
}

// The backend that plugin_file provides, loading it if discovery has not already.
std::string backend_of(const std::string& plugin_file) {
  const std::string want = canonical(plugin_file);
  for (const auto& b : kiln::backends())
    if (canonical(b.file) == want) return b.name;
  for (const auto& f : kiln::plugin_failures())
    if (canonical(f.file) == want) throw kiln::PluginError("cannot load plugin " + plugin_file + ": " + f.reason);
  return kiln::load_plugin(plugin_file).name;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  try {
    parse(argc, argv, args);
  } catch (const std::exception& e) {
    std::cerr << "kiln-conformance: " << e.what() << "\n\n" << kUsage;
    return 2;
  }
  if (!fs::is_regular_file(args.plugin)) {
    std::cerr << "kiln-conformance: " << args.plugin << ": no such file\n";
    return 2;
  }
  // Note [Plugin under test first]: putting the file first on KILN_PLUGIN_PATH before the plugin
  // host starts makes it win over an installed plugin of the same backend name (the earlier file
  // wins at equal score), so a new build of "tbb" can be checked beside the installed one.
  {
    std::string path = canonical(args.plugin);
    if (const char* old = std::getenv("KILN_PLUGIN_PATH"); old && *old) path += std::string(":") + old;
    setenv("KILN_PLUGIN_PATH", path.c_str(), 1);
  }
  std::string backend;
  try {
    backend = backend_of(args.plugin);
  } catch (const std::exception& e) {
    std::cerr << "kiln-conformance: " << e.what() << "\n";
    return 2;
  }
  std::vector<kiln::ConformanceResult> results;
  try {
    results = kiln::run_conformance({.backend = backend, .ops = args.ops, .seed = args.seed, .verbose = args.verbose});
  } catch (const std::exception& e) {
    std::cerr << "kiln-conformance: backend '" << backend << "' from " << args.plugin << ": " << e.what() << "\n";
    return 2;
  }
  int passed = 0, failed = 0;
  for (const auto& r : results)
    if (!r.skipped) (r.passed ? passed : failed)++;
  if (args.json) {
    std::cout << kiln::conformance_json(results) << "\n";
  } else {
    std::cout << "kiln-conformance " KILN_VERSION_STRING ": backend '" << backend << "' (" << canonical(args.plugin)
              << ") against 'ref'\n\n"
              << kiln::format_conformance_table(results);
  }
  if (passed == 0 && failed == 0) std::cerr << "kiln-conformance: warning: the backend claims none of the ops run\n";
  return failed == 0 ? 0 : 1;
}
