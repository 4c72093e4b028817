// The `kiln` command line run as a subprocess: exit statuses (0 ok, 1 Kiln error, 2 usage error),
// help text, `kiln plugins` as text, JSON and support matrix, and `kiln demo`.
//
// Plugin tests point KILN_PLUGIN_PATH at a scratch folder holding copies of the loader tests' good
// plugin, two broken ones and a text file named .so, so the expected backends and failures are
// exact; the ref backend (when built) is found beside libkiln as well.
#include <kiln/plugin/kiln_backend.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Result {
  int status = -1;
  std::string out;
  std::string err;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string slurp(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A per-process scratch folder, created once.
const fs::path& scratch() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("kiln-sdk-cli-test-" + std::to_string(getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

// Runs `kiln <args>` with KILN_PLUGIN_PATH set to plugin_path (unset when empty) and KILN_BACKEND unset.
Result kiln(const std::string& args, const std::string& plugin_path = "") {
  fs::path out = scratch() / "stdout.txt", err = scratch() / "stderr.txt";
  std::string env = plugin_path.empty() ? "env -u KILN_PLUGIN_PATH -u KILN_BACKEND "
                                        : "env -u KILN_BACKEND KILN_PLUGIN_PATH=" + quote(plugin_path) + " ";
  std::string command = env + quote(KILN_CLI_PATH) + " " + args + " >" + quote(out.string()) + " 2>" +
                        quote(err.string());
  int raw = std::system(command.c_str());
  Result r;
  r.status = raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The scratch plugin folder: the good test plugin, two broken ones and a text file named .so.
struct PluginFolder {
  fs::path dir = scratch() / "plugins";
  fs::path good = dir / "kiln_backend_testgood.so";
  fs::path no_entry = dir / "kiln_backend_bad_no_entry.so";
  fs::path newer_abi = dir / "kiln_backend_bad_newer_abi.so";
  fs::path text = dir / "kiln_backend_text.so";
  PluginFolder() {
    fs::create_directories(dir);
    auto copy = [](const std::string& name, const fs::path& to) {
      fs::copy_file(std::string(KILN_TEST_PLUGIN_DIR) + "/kiln_backend_" + name + ".so", to,
                    fs::copy_options::overwrite_existing);
    };
    copy("testgood", good);
    copy("bad_no_entry", no_entry);
    copy("bad_newer_abi", newer_abi);
    std::ofstream(text) << "not a shared object\n";
  }
};

const PluginFolder& plugin_folder() {
  static const PluginFolder folder;
  return folder;
}

const json* find_named(const json& array, const std::string& key, const std::string& value) {
  for (const auto& item : array)
    if (item.at(key) == value) return &item;
  return nullptr;
}

}  // namespace

TEST(sdk, VersionPrintsKilnAndPluginAbi) {
  Result r = kiln("--version");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "kiln 0.1.0 (plugin ABI 2)\n");
  EXPECT_EQ(r.err, "");
}

TEST(sdk, NoArgumentsPrintsUsageAndExits2) {
  Result r = kiln("");
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "usage: kiln ")) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(sdk, HelpListsEveryCommandWithASummary) {
  Result r = kiln("help");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "usage: kiln ")) << r.out;
  EXPECT_TRUE(contains(r.out, "  demo ")) << r.out;
  EXPECT_TRUE(contains(r.out, "  help ")) << r.out;
  // the summary column starts after the longest command name, which depends on the modules built
  const size_t at = r.out.find("  plugins ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const size_t summary = r.out.find_first_not_of(' ', at + 9);
  EXPECT_EQ(r.out.compare(summary, 24, "List the backend plugins"), 0) << r.out;
  EXPECT_EQ(kiln("--help").out, r.out);
  EXPECT_EQ(kiln("-h").out, r.out);
}

TEST(sdk, CommandHelpIsTheSameWhicheverWayItIsAsked) {
  Result r = kiln("help plugins");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "usage: kiln plugins [--json] [--ops]")) << r.out;
  EXPECT_TRUE(contains(r.out, "--json")) << r.out;
  EXPECT_TRUE(contains(r.out, "--ops")) << r.out;
  EXPECT_EQ(kiln("plugins --help").out, r.out);
  EXPECT_EQ(kiln("plugins -h").out, r.out);
  EXPECT_EQ(kiln("--help plugins").out, r.out);
  Result demo = kiln("demo --help");
  EXPECT_EQ(demo.status, 0);
  EXPECT_TRUE(contains(demo.out, "--device")) << demo.out;
  EXPECT_TRUE(contains(demo.out, "--size")) << demo.out;
}

TEST(sdk, UnknownCommandExits2WithTheUsage) {
  Result r = kiln("frobnicate");
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "kiln: unknown command 'frobnicate'")) << r.err;
  EXPECT_TRUE(contains(r.err, "usage: kiln ")) << r.err;
  EXPECT_EQ(r.out, "");
  Result near = kiln("plugin");
  EXPECT_EQ(near.status, 2);
  EXPECT_TRUE(contains(near.err, "kiln: unknown command 'plugin' (did you mean 'plugins'?)")) << near.err;
  Result help = kiln("help frobnicate");
  EXPECT_EQ(help.status, 2);
  EXPECT_TRUE(contains(help.err, "kiln: unknown command 'frobnicate'")) << help.err;
}

TEST(sdk, UnknownOptionExits2WithTheCommandsUsage) {
  Result r = kiln("plugins --frob");
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "kiln: unrecognised option '--frob'")) << r.err;
  EXPECT_TRUE(contains(r.err, "usage: kiln plugins [--json] [--ops]")) << r.err;
  EXPECT_EQ(r.out, "");
  Result global = kiln("--frob");
  EXPECT_EQ(global.status, 2);
  EXPECT_TRUE(contains(global.err, "unrecognised option '--frob'")) << global.err;
  EXPECT_TRUE(contains(global.err, "usage: kiln ")) << global.err;
  // No abbreviations: "--js" is not "--json".
  EXPECT_EQ(kiln("plugins --js").status, 2);
  EXPECT_EQ(kiln("plugins extra").status, 2);
}

TEST(sdk, BadOptionValuesExit2) {
  Result text = kiln("demo --size abc");
  EXPECT_EQ(text.status, 2);
  EXPECT_TRUE(contains(text.err, "--size")) << text.err;
  EXPECT_TRUE(contains(text.err, "usage: kiln demo")) << text.err;
  Result range = kiln("demo --size 0");
  EXPECT_EQ(range.status, 2);
  EXPECT_TRUE(contains(range.err, "kiln: --size must be between 1 and 16384, got 0")) << range.err;
}

TEST(sdk, KilnErrorsExit1WithTheMessage) {
  Result r = kiln("demo --device nosuch", plugin_folder().dir.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err.rfind("kiln: error: device 'nosuch': no backend named 'nosuch' is loaded; available: ", 0), 0u)
      << r.err;
  EXPECT_TRUE(contains(r.err, "testgood")) << r.err;
}

TEST(sdk, PluginsJsonListsBackendsFailuresAndSearchPath) {
  const PluginFolder& folder = plugin_folder();
  Result r = kiln("plugins --json", folder.dir.string());
  ASSERT_EQ(r.status, 0) << r.err;
  json j = json::parse(r.out);  // throws (and fails the test) when stdout is not pure JSON
  EXPECT_EQ(j.at("kiln_version"), "0.1.0");
  EXPECT_EQ(j.at("abi_version"), KILN_ABI_VERSION);
  EXPECT_EQ(j.at("op_count"), KILN_OP_COUNT);

  const json* good = find_named(j.at("backends"), "name", "testgood");
  ASSERT_NE(good, nullptr) << j.dump(2);
  EXPECT_EQ(good->at("version"), "1.2.3");
  EXPECT_EQ(good->at("abi_version"), 2);  // the kit declares the current ABI
  EXPECT_EQ(good->at("priority"), 1);
  EXPECT_EQ(good->at("file"), fs::canonical(folder.good).string());
  EXPECT_EQ(good->at("status_note"), nullptr);
  EXPECT_EQ(good->at("supported_ops"), json({"add", "fill", "copy"}));
  EXPECT_EQ(good->at("ops_supported"), 3);
  ASSERT_EQ(good->at("devices").size(), 1u);
  EXPECT_EQ(good->at("devices")[0].at("name"), "loader test device");
  EXPECT_EQ(good->at("devices")[0].at("kind"), "cpu");
  EXPECT_EQ(good->at("devices")[0].at("host_accessible"), true);
#if KILN_TEST_HAVE_REF
  EXPECT_NE(find_named(j.at("backends"), "name", "ref"), nullptr) << j.dump(2);
#endif

  const json& failures = j.at("failures");
  EXPECT_EQ(failures.size(), 3u) << failures.dump(2);
  auto reason_of = [&](const fs::path& file) -> std::string {
    const json* f = find_named(failures, "file", file.string());
    return f ? f->at("reason").get<std::string>() : "(not listed)";
  };
  EXPECT_TRUE(contains(reason_of(folder.text), "not a loadable shared library")) << failures.dump(2);
  EXPECT_TRUE(contains(reason_of(folder.no_entry), "missing entry symbol 'kiln_backend_init'")) << failures.dump(2);
  EXPECT_TRUE(contains(reason_of(folder.newer_abi), "plugin ABI version 3 is newer than this Kiln's (2)"))
      << failures.dump(2);

  ASSERT_GE(j.at("search_path").size(), 1u);
  EXPECT_EQ(j.at("search_path")[0], folder.dir.string());

  ASSERT_EQ(j.at("ops").size(), static_cast<size_t>(KILN_OP_COUNT));
  const json* add = find_named(j.at("ops"), "name", "add");
  ASSERT_NE(add, nullptr);
  EXPECT_EQ(add->at("inputs"), 2);
  EXPECT_EQ(add->at("kind"), "binary");
  const auto& runners = add->at("backends");
  EXPECT_NE(std::find(runners.begin(), runners.end(), "testgood"), runners.end()) << add->dump();
  const json* matmul = find_named(j.at("ops"), "name", "matmul");
  ASSERT_NE(matmul, nullptr);
  const auto& matmul_runners = matmul->at("backends");
  EXPECT_EQ(std::find(matmul_runners.begin(), matmul_runners.end(), "testgood"), matmul_runners.end());
}

TEST(sdk, PluginsJsonFindsRefBesideLibkiln) {
#if !KILN_TEST_HAVE_REF
  GTEST_SKIP() << "the ref backend is not built (KILN_BACKEND_REF=OFF)";
#else
  Result r = kiln("plugins --json");
  ASSERT_EQ(r.status, 0) << r.err;
  json j = json::parse(r.out);
  const json* ref = find_named(j.at("backends"), "name", "ref");
  ASSERT_NE(ref, nullptr) << j.dump(2);
  EXPECT_EQ(ref->at("abi_version"), KILN_ABI_VERSION);
  EXPECT_GE(ref->at("devices").size(), 1u);
  EXPECT_TRUE(fs::exists(ref->at("file").get<std::string>()));
#endif
}

TEST(sdk, PluginsTextShowsTheTableNotesFailuresAndSearchPath) {
  const PluginFolder& folder = plugin_folder();
  Result r = kiln("plugins", folder.dir.string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "") << "load failures belong in the report, not in warnings";
  EXPECT_TRUE(contains(r.out, "BACKEND")) << r.out;
  EXPECT_TRUE(contains(r.out, "PRIORITY")) << r.out;
  // The good plugin's row: name, version, ABI, priority, device, ops, file.
  std::string ops = "3/" + std::to_string(KILN_OP_COUNT);
  bool row_found = false;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("  testgood ", 0) != 0) continue;
    row_found = true;
    for (const std::string& cell : {std::string("1.2.3"), std::string("loader test device (cpu)"), ops,
                                    fs::canonical(folder.good).string()})
      EXPECT_TRUE(contains(line, cell)) << "row: " << line << "\nmissing: " << cell;
  }
  EXPECT_TRUE(row_found) << r.out;
  EXPECT_TRUE(contains(r.out, "Plugins that failed to load (3):")) << r.out;
  EXPECT_TRUE(contains(r.out, "  " + folder.no_entry.string() + "\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "missing entry symbol 'kiln_backend_init'")) << r.out;
  EXPECT_TRUE(contains(r.out, "Search path")) << r.out;
  EXPECT_TRUE(contains(r.out, "  " + folder.dir.string() + "\n")) << r.out;
}

TEST(sdk, PluginsOpsPrintsOneRowPerCatalogueOp) {
  Result r = kiln("plugins --ops", plugin_folder().dir.string());
  ASSERT_EQ(r.status, 0) << r.err;
  int rows = 0;
  std::string add_row, matmul_row, header;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("  OP ", 0) == 0) header = line;
    if (line.rfind("  add ", 0) == 0) add_row = line;
    if (line.rfind("  matmul ", 0) == 0) matmul_row = line;
    if (line.rfind("  ", 0) == 0 && line.rfind("  OP ", 0) != 0 && line.rfind("  total", 0) != 0) ++rows;
  }
  EXPECT_EQ(rows, KILN_OP_COUNT) << r.out;
  EXPECT_TRUE(contains(header, "testgood")) << r.out;
  // testgood is the last column unless ref sorts after it (ref has the higher priority, so first).
  EXPECT_EQ(add_row.back(), 'x') << add_row;
  EXPECT_EQ(matmul_row.back(), '.') << matmul_row;
  EXPECT_TRUE(contains(r.out, "  total")) << r.out;
}

TEST(sdk, DemoRunsOnTheLoadedBackends) {
#if KILN_TEST_HAVE_REF
  Result r = kiln("demo --size 32");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "== ref:0 ==")) << r.out;
  EXPECT_TRUE(contains(r.out, "tensor([[0., 1., 2.],\n        [3., 4., 5.]]")) << r.out;
  EXPECT_TRUE(contains(r.out, "x.matmul(y.t())")) << r.out;
  EXPECT_TRUE(contains(r.out, "every element == 32: yes")) << r.out;
  // The good test plugin lacks matmul; it falls back to ref in the same host memory.
  Result good = kiln("demo --device testgood --size 8", plugin_folder().dir.string());
  EXPECT_EQ(good.status, 0) << good.out << good.err;
  EXPECT_TRUE(contains(good.out, "== testgood:0 ==")) << good.out;
  EXPECT_TRUE(contains(good.out, "device='testgood:0'")) << good.out;
  EXPECT_TRUE(contains(good.out, "every element == 8: yes")) << good.out;
#else
  // Only the good test plugin: no matmul anywhere, so the demo stops on it and fails.
  Result r = kiln("demo --size 8", plugin_folder().dir.string());
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "== testgood:0 ==")) << r.out;
  EXPECT_TRUE(contains(r.out, "x + y")) << r.out;
  EXPECT_TRUE(contains(r.out, "stopped: op 'matmul'")) << r.out;
  EXPECT_TRUE(contains(r.err, "kiln: error: the demo could not run to the end on any device")) << r.err;
#endif
}
