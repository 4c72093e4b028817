// The plugin host's loader: a good minimal plugin loads and runs ops through kiln::Tensor, and each
// deliberately broken plugin (tests/plugins/CMakeLists.txt) is refused with the file and a reason
// that names the defect, while every backend already loaded keeps working.
//
// The backend registry is process-wide and plugins are never unloaded, so every test loads its own
// files (each at most once) and the good plugin is loaded on demand by whichever test needs it
// first: the tests pass in any order, alone or together.
#include <kiln/device.hpp>
#include <kiln/error.hpp>
#include <kiln/ops.hpp>
#include <kiln/plugin/kiln_backend.h>
#include <kiln/tensor.hpp>

#include <gtest/gtest.h>

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::string plugin_file(const std::string& name) {
  return std::string(KILN_TEST_PLUGIN_DIR) + "/kiln_backend_" + name + ".so";
}

std::string canonical(const std::string& path) { return fs::weakly_canonical(path).string(); }

std::optional<kiln::BackendInfo> find_backend(const std::string& name) {
  for (auto& b : kiln::backends())
    if (b.name == name) return b;
  return std::nullopt;
}

std::optional<kiln::PluginFailure> recorded_failure(const std::string& file) {
  for (auto& f : kiln::plugin_failures())
    if (f.file == file) return f;
  return std::nullopt;
}

kiln::BackendInfo ensure_good_loaded() {
  if (auto b = find_backend("testgood")) return *b;
  return kiln::load_plugin(plugin_file("testgood"));
}

// How many ops the good plugin has run: proof that an op ran there and not on a fallback backend.
uint64_t good_launch_count() {
  void* handle = dlopen(plugin_file("testgood").c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return 0;
  auto count = reinterpret_cast<uint64_t (*)()>(dlsym(handle, "kiln_test_launch_count"));
  uint64_t n = count ? count() : 0;
  dlclose(handle);  // drops only the reference RTLD_NOLOAD took
  return n;
}

// The good plugin and every other loaded backend with a device still create and add tensors.
void expect_backends_still_work() {
  ensure_good_loaded();
  uint64_t before = good_launch_count();
  kiln::Device device("testgood:0");
  kiln::Tensor a = kiln::full({2, 3}, 1.5, {.device = device});
  kiln::Tensor b = kiln::from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3}, device);
  kiln::Tensor c = a + b;
  EXPECT_EQ(c.device().str(), "testgood:0");
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f}));
  EXPECT_GE(good_launch_count(), before + 2) << "FILL and ADD should have run in the testgood plugin";

  for (const auto& info : kiln::backends()) {
    if (info.devices.empty() || info.name == "testgood") continue;
    kiln::Device other(info.name + ":0");
    kiln::Tensor x = kiln::full({3}, 2.0, {.device = other}) + kiln::full({3}, 0.25, {.device = other});
    EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{2.25f, 2.25f, 2.25f})) << "backend " << info.name;
  }
}

// Loading `path` throws a PluginError naming the file and `reason`; the failure is recorded with the
// file; no backend comes from the file; the others keep working.
void expect_refused(const std::string& path, const std::string& reason) {
  SCOPED_TRACE(path);
  std::string message;
  try {
    kiln::load_plugin(path);
    ADD_FAILURE() << "loading " << path << " succeeded; expected it to be refused with: " << reason;
  } catch (const kiln::PluginError& e) {
    message = e.what();
  }
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find(reason), std::string::npos) << message;

  auto failure = recorded_failure(path);
  ASSERT_TRUE(failure.has_value()) << "plugin_failures() does not list " << path;
  EXPECT_EQ(failure->file, path);
  EXPECT_NE(failure->reason.find(reason), std::string::npos) << failure->reason;

  for (const auto& b : kiln::backends()) EXPECT_NE(b.file, canonical(path)) << "backend " << b.name;
  expect_backends_still_work();
}

// A per-process scratch folder for files the tests write.
fs::path scratch_dir() {
  fs::path dir = fs::temp_directory_path() / ("kiln-plugin-loader-test-" + std::to_string(getpid()));
  fs::create_directories(dir);
  return dir;
}

}  // namespace

TEST(plugins, GoodPluginLoadsAndDescribesItself) {
  kiln::BackendInfo info = ensure_good_loaded();
  EXPECT_EQ(info.name, "testgood");
  EXPECT_EQ(info.version, "1.2.3");
  EXPECT_EQ(info.abi_version, 2u);  // the kit declares the current ABI
  EXPECT_EQ(info.priority, 1);
  EXPECT_EQ(info.score, 0);
  EXPECT_EQ(info.file, canonical(plugin_file("testgood")));
  EXPECT_EQ(info.status_note, "");
  ASSERT_EQ(info.devices.size(), 1u);
  EXPECT_EQ(info.devices[0].name, "loader test device");
  EXPECT_EQ(info.devices[0].kind, "cpu");
  EXPECT_TRUE(info.devices[0].host_accessible);
  EXPECT_EQ(info.devices[0].compute_units, 1);
  // In catalogue order.
  EXPECT_EQ(info.supported_ops, (std::vector<std::string>{"add", "fill", "copy"}));
  EXPECT_FALSE(recorded_failure(plugin_file("testgood")).has_value());
}

TEST(plugins, GoodPluginRunsOpsThroughTensor) {
  expect_backends_still_work();
  // A transposed (strided) view made contiguous runs COPY in the plugin.
  kiln::Device device("testgood:0");
  kiln::Tensor m = kiln::from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3}, device);
  uint64_t before = good_launch_count();
  kiln::Tensor t = m.t().contiguous();
  EXPECT_EQ(t.shape(), (kiln::Shape{3, 2}));
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_GE(good_launch_count(), before + 1);
  // Broadcasting: the host expands b to a's shape with stride 0 and the plugin reads it so.
  kiln::Tensor b = kiln::from_vector<float>({10, 20, 30}, {3}, device);
  EXPECT_EQ((m + b).to_vector<float>(), (std::vector<float>{10, 21, 32, 13, 24, 35}));
}

// A plugin built against the frozen v1 header (tests/plugins/v1) loads in this v2 host and runs
// ops through kiln::Tensor: the host hands it v1 descriptors and v1 attribute structs.
uint64_t v1_launch_count() {
  void* handle = dlopen(plugin_file("testv1").c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return 0;
  auto count = reinterpret_cast<uint64_t (*)()>(dlsym(handle, "kiln_test_v1_launch_count"));
  uint64_t n = count ? count() : 0;
  dlclose(handle);
  return n;
}

TEST(plugins, V1PluginLoadsAndRunsOpsThroughTensor) {
  kiln::BackendInfo info = find_backend("testv1") ? *find_backend("testv1") : kiln::load_plugin(plugin_file("testv1"));
  EXPECT_EQ(info.abi_version, 1u);
  ASSERT_EQ(info.devices.size(), 1u);
  EXPECT_EQ(info.devices[0].name, "v1 test device");
  kiln::Device device("testv1:0");
  const uint64_t before = v1_launch_count();
  // FILL reads its value from the v1 attribute layout (the host passes the struct past its header).
  kiln::Tensor a = kiln::full({2, 3}, 1.5, {.device = device});
  kiln::Tensor b = kiln::from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3}, device);
  EXPECT_EQ((a + b).to_vector<float>(), (std::vector<float>{1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f}));
  EXPECT_EQ((a * b).to_vector<float>(), (std::vector<float>{0, 1.5f, 3, 4.5f, 6, 7.5f}));
  // Strided and broadcast inputs reach it as v1 descriptors (offset, strides in elements).
  EXPECT_EQ(b.t().contiguous().to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  kiln::Tensor row = kiln::from_vector<float>({10, 20, 30}, {3}, device);
  EXPECT_EQ((b + row).to_vector<float>(), (std::vector<float>{10, 21, 32, 13, 24, 35}));
  EXPECT_GE(v1_launch_count(), before + 5) << "FILL, ADD, MUL, COPY and ADD should have run in the v1 plugin";
  // An op it does not claim runs on a host backend in the same memory.
  EXPECT_EQ(b.sum().item<float>(), 15.0f);
}

TEST(plugins, SameFileTwiceIsRefusedWithoutRecordingAFailure) {
  ensure_good_loaded();
  size_t failures_before = kiln::plugin_failures().size();
  try {
    kiln::load_plugin(plugin_file("testgood"));
    ADD_FAILURE() << "loading the good plugin twice succeeded";
  } catch (const kiln::PluginError& e) {
    EXPECT_NE(std::string(e.what()).find("is already loaded"), std::string::npos) << e.what();
  }
  EXPECT_EQ(kiln::plugin_failures().size(), failures_before);
  auto all = kiln::backends();
  EXPECT_EQ(std::count_if(all.begin(), all.end(), [](const auto& b) { return b.name == "testgood"; }), 1);
}

TEST(plugins, TextFileNamedSoIsNotALoadableLibrary) {
  fs::path file = scratch_dir() / "kiln_backend_text.so";
  std::ofstream(file) << "this is a text file, not a shared object\n";
  expect_refused(file.string(), "not a loadable shared library (");
  fs::remove_all(file.parent_path());
}

TEST(plugins, MissingFileIsNotALoadableLibrary) {
  fs::path dir = scratch_dir();
  expect_refused((dir / "no-such-plugin.so").string(), "not a loadable shared library (");
  fs::remove_all(dir);
}

TEST(plugins, LibraryWithoutEntrySymbolIsRefused) {
  expect_refused(plugin_file("bad_no_entry"),
                 "missing entry symbol 'kiln_backend_init' (is this a Kiln backend plugin?)");
}

TEST(plugins, NewerAbiVersionIsRefusedNamingBothVersions) {
  expect_refused(plugin_file("bad_newer_abi"),
                 "plugin ABI version 3 is newer than this Kiln's (2); upgrade Kiln or use a plugin built for ABI 2");
}

TEST(plugins, InitErrorStatusIsReportedWithThePluginsMessage) {
  expect_refused(plugin_file("bad_init_error"),
                 "kiln_backend_init failed with DEVICE_ERROR: test: no frobnicator on this machine");
}

TEST(plugins, InitThrowingIsCaughtAndReported) {
  expect_refused(plugin_file("bad_init_throws"), "kiln_backend_init threw an exception: test: init threw");
}

TEST(plugins, KitInitializeFailureIsRefused) {
  // Note: the kit (host_backend.hpp) leaves *out_api unset when initialize() throws, so the host
  // cannot fetch the message ("test: kit initialize failed"); only the status reaches the report.
  expect_refused(plugin_file("bad_kit_init"), "kiln_backend_init failed with NO_DEVICE");
}

TEST(plugins, InitReturningOkWithoutTableIsRefused) {
  expect_refused(plugin_file("bad_null_table"), "kiln_backend_init returned OK but no function table");
}

TEST(plugins, TableTooShortIsRefused) {
  const size_t required = KILN_BACKEND_API_V1_SIZE;  // the broken plugins declare ABI 1
  expect_refused(plugin_file("bad_short_table"),
                 "function table has struct_size " + std::to_string(offsetof(kiln_backend_api, last_error)) +
                     ", expected at least " + std::to_string(required));
}

TEST(plugins, NullRequiredSlotIsRefused) {
  expect_refused(plugin_file("bad_null_slot"), "function table has a null required slot");
}

TEST(plugins, V2TableWithNullV2SlotsIsRefused) {
  expect_refused(plugin_file("bad_v2_null_slots"), "function table declares ABI version 2 but has a null v2 slot");
}

TEST(plugins, EmptyBackendNameIsRefused) {
  expect_refused(plugin_file("bad_empty_name"), "function table has no valid backend name");
}

TEST(plugins, BackendNameWithSpaceIsRefused) {
  expect_refused(plugin_file("bad_bad_name"),
                 "backend name 'has space' has characters other than letters, digits, _ and -");
}

TEST(plugins, ScoreZeroMeansCannotRunHere) {
  expect_refused(plugin_file("bad_score_zero"), "kiln_backend_score() returned 0: cannot run on this machine");
}

TEST(plugins, DuplicateBackendNameIsRefusedAndTheFirstStays) {
  kiln::BackendInfo good = ensure_good_loaded();
  expect_refused(plugin_file("bad_duplicate"), "backend 'testgood' is already provided by " + good.file);
  auto now = find_backend("testgood");
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(now->file, good.file);
  EXPECT_EQ(now->version, "1.2.3");
}

TEST(plugins, HigherScoreSupersedesASameNamedPlugin) {
  kiln::BackendInfo low = kiln::load_plugin(plugin_file("bad_scored_low"));
  EXPECT_EQ(low.score, 1);
  EXPECT_EQ(low.status_note, "test stub: no device");
  EXPECT_TRUE(low.devices.empty());
  kiln::BackendInfo high = kiln::load_plugin(plugin_file("bad_scored_high"));
  EXPECT_EQ(high.score, 5);

  auto all = kiln::backends();
  EXPECT_EQ(std::count_if(all.begin(), all.end(), [](const auto& b) { return b.name == "scored"; }), 1);
  auto now = find_backend("scored");
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(now->file, high.file);
  auto superseded = recorded_failure(low.file);
  ASSERT_TRUE(superseded.has_value());
  EXPECT_EQ(superseded->reason, "superseded by " + high.file + " (score 5 > 1)");
  expect_backends_still_work();
}
