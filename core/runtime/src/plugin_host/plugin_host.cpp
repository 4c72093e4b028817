// The plugin host: finds backend plugins, loads each once with Boost.DLL, negotiates the ABI and
// keeps every library loaded for the life of the process.
//
// Note [Plugin search order]: KILN_PLUGIN_PATH entries (folders or files, colon-separated) come
// first so a user can override an installed plugin; then the folder kiln/backends beside libkiln
// (the same relative layout in the build tree and in an installed, possibly moved, prefix). When
// two files provide a backend of the same name, the higher kiln_backend_score() wins, then the
// earlier in the search order; the loser is reported as a failure naming the winner. Layer plugins
// (kiln/layer_plugin.hpp) are found in the same folders and in kiln/layers beside libkiln.
#define BOOST_DLL_USE_STD_FS
#include "plugin_host/registry.hpp"

#include <kiln/error.hpp>
#include <kiln/version.hpp>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <type_traits>

#include "dispatch/allocator.hpp"

namespace fs = std::filesystem;

namespace kiln::detail {

namespace {

kiln_log_level configured_level() {
  static const int level = [] {
    const char* env = std::getenv("KILN_LOG_LEVEL");
    std::string v = env ? env : "warn";
    if (v == "debug") return 0;
    if (v == "info") return 1;
    if (v == "error") return 3;
    if (v == "off" || v == "none") return 4;
    return 2;
  }();
  return static_cast<kiln_log_level>(level);
}

void host_log(kiln_log_level level, const char* message) { log(level, message ? message : "(null)"); }

const kiln_host_api* host_api() {
  static const kiln_host_api api = {
      .struct_size = sizeof(kiln_host_api),
      .abi_version = KILN_ABI_VERSION,
      .host_version = KILN_VERSION_STRING,
      .log = &host_log,
  };
  return &api;
}

// Required slots: everything up to and including launch in ABI version 1; the whole v2 table
// (stream_failed_launch is its last slot) in ABI version 2.
constexpr size_t kRequiredApiSize = KILN_BACKEND_API_V1_SIZE;
constexpr size_t kRequiredApiSizeV2 = offsetof(kiln_backend_api, stream_failed_launch) + sizeof(void*);

std::string library_dir() {
  try {
    return boost::dll::symbol_location(host_api).parent_path().string();
  } catch (const std::exception&) {
    return {};
  }
}

bool looks_like_plugin(const fs::path& p) {
  auto name = p.filename().string();
  return p.extension() == ".so" || name.find(".so.") != std::string::npos || p.extension() == ".dylib" ||
         p.extension() == ".dll";
}

std::string status_name(kiln_status s) {
  switch (s) {
    case KILN_STATUS_OK: return "OK";
    case KILN_STATUS_UNSUPPORTED: return "UNSUPPORTED";
    case KILN_STATUS_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case KILN_STATUS_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
    case KILN_STATUS_DEVICE_ERROR: return "DEVICE_ERROR";
    case KILN_STATUS_NO_DEVICE: return "NO_DEVICE";
    case KILN_STATUS_INTERNAL: return "INTERNAL";
    case KILN_STATUS_INDEX_OUT_OF_RANGE: return "INDEX_OUT_OF_RANGE";
    case KILN_STATUS_NOT_READY: return "NOT_READY";
  }
  return "status " + std::to_string(static_cast<int>(s));
}

}  // namespace

void log(kiln_log_level level, const std::string& message) {
  if (level < configured_level()) return;
  static const char* names[] = {"debug", "info", "warning", "error"};
  std::cerr << "[kiln " << names[level] << "] " << message << std::endl;
}

std::string BackendEntry::last_error() const {
  if (api == nullptr || api->last_error == nullptr) return "(no message)";
  const char* m = api->last_error(api->backend);
  return m && *m ? m : "(no message)";
}

DeviceEntry& BackendEntry::device(int32_t index) {
  KILN_CHECK(index >= 0 && index < static_cast<int32_t>(devices.size()), DeviceError, "device ", name, ":",
             index, " does not exist: backend '", name, "' has ", devices.size(), " device(s)",
             status_note.empty() ? "" : " (" + status_note + ")");
  return *devices[index];
}

Registry& Registry::get() {
  static Registry* registry = new Registry();  // never destroyed: plugins stay loaded
  return *registry;
}

namespace {
struct PluginKind {
  const char* entry_symbol;
  PluginKindLoader load;
};
// Registered during static initialization (Note [Plugin kinds]); read by discovery afterwards.
std::vector<PluginKind>& plugin_kinds() {
  static std::vector<PluginKind> kinds;
  return kinds;
}
// True on the thread that runs discover(), so find_layer does not re-enter the registry.
thread_local bool discovering = false;
}  // namespace

Registry::Registry() { discover(); }

void register_plugin_kind(const char* entry_symbol, PluginKindLoader loader) {
  plugin_kinds().push_back({entry_symbol, loader});
}

void discover_plugins() {
  if (!discovering) Registry::get();
}

void Registry::discover() {
  discovering = true;
  struct Reset {
    ~Reset() { discovering = false; }
  } reset;
  if (const char* env = std::getenv("KILN_PLUGIN_PATH")) {
    std::stringstream ss(env);
    std::string item;
    while (std::getline(ss, item, ':'))
      if (!item.empty()) search_path_.push_back(item);
  }
  std::string libdir = library_dir();
  if (!libdir.empty()) {
    search_path_.push_back((fs::path(libdir) / "kiln" / "backends").string());
    search_path_.push_back((fs::path(libdir) / "kiln" / "layers").string());  // layer plugins
  }

  for (const auto& entry : search_path_) {
    std::error_code ec;
    fs::path p(entry);
    std::vector<fs::path> files;
    if (fs::is_regular_file(p, ec)) {
      files.push_back(p);
    } else if (fs::is_directory(p, ec)) {
      for (const auto& f : fs::directory_iterator(p, ec))
        if (f.is_regular_file(ec) && looks_like_plugin(f.path())) files.push_back(f.path());
      std::sort(files.begin(), files.end());
    } else {
      continue;  // a missing folder in the path is not an error
    }
    for (const auto& f : files) {
      try {
        load_file(f.string());
      } catch (const PluginError& e) {
        // already recorded in failures_
        log(KILN_LOG_INFO, e.what());
      }
    }
  }
}

BackendEntry* Registry::load_file(const std::string& path) {
  std::error_code ec;
  std::string canonical = fs::weakly_canonical(fs::path(path), ec).string();
  if (canonical.empty()) canonical = path;
  auto fail = [&](const std::string& reason) -> BackendEntry* {
    failures_.push_back({path, reason});
    log(KILN_LOG_WARN, "plugin " + path + " not loaded: " + reason);
    throw PluginError("cannot load plugin " + path + ": " + reason);
  };
  if (std::find(loaded_files_.begin(), loaded_files_.end(), canonical) != loaded_files_.end())
    throw PluginError("plugin " + path + " is already loaded");
  loaded_files_.push_back(canonical);

  // Loaded once and never unloaded (unloading GPU runtimes crashes); hence the leak.
  auto* lib = new boost::dll::shared_library();
  try {
    lib->load(canonical, boost::dll::load_mode::rtld_lazy | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    // A layer plugin built for another major version needs another libkiln.so.N.
    std::string what = e.what();
    if (auto at = what.find("libkiln.so."); at != std::string::npos) {
      std::string major = what.substr(at + 11, what.find_first_not_of("0123456789", at + 11) - at - 11);
      if (!major.empty() && major != std::to_string(KILN_VERSION_MAJOR))
        return fail("layer plugin built for Kiln " + major + ".x (it needs libkiln.so." + major +
                    "), but this is Kiln " KILN_VERSION_STRING "; rebuild it against Kiln " KILN_VERSION_STRING);
    }
    return fail("not a loadable shared library (" + what + ")");
  }
  if (!lib->has(KILN_BACKEND_INIT_SYMBOL)) {
    std::string expected = std::string("'") + KILN_BACKEND_INIT_SYMBOL + "'";
    for (const PluginKind& kind : plugin_kinds()) {
      if (lib->has(kind.entry_symbol)) {
        std::string refused = kind.load(static_cast<void*>(&lib->get<char>(kind.entry_symbol)), canonical);
        if (!refused.empty()) return fail(refused);
        return nullptr;
      }
      expected += std::string(" or '") + kind.entry_symbol + "'";
    }
    return fail(std::string("missing entry symbol '") + KILN_BACKEND_INIT_SYMBOL +
                "' (is this a Kiln backend plugin?); a Kiln plugin exports one of " + expected);
  }
  auto init = lib->get<kiln_status(const kiln_host_api*, uint32_t, const kiln_backend_api**)>(KILN_BACKEND_INIT_SYMBOL);
  int32_t score = 0;
  if (lib->has(KILN_BACKEND_SCORE_SYMBOL)) {
    auto score_fn = lib->get<int32_t()>(KILN_BACKEND_SCORE_SYMBOL);
    try {
      score = score_fn();
    } catch (...) {
      return fail("kiln_backend_score threw an exception");
    }
    if (score <= 0) return fail("kiln_backend_score() returned " + std::to_string(score) + ": cannot run on this machine");
  }

  const kiln_backend_api* api = nullptr;
  kiln_status status;
  try {
    status = init(host_api(), KILN_ABI_VERSION, &api);
  } catch (const std::exception& e) {
    return fail(std::string("kiln_backend_init threw an exception: ") + e.what());
  } catch (...) {
    return fail("kiln_backend_init threw an exception");
  }
  if (status != KILN_STATUS_OK) {
    std::string msg;
    if (api != nullptr && api->struct_size >= offsetof(kiln_backend_api, last_error) + sizeof(void*) && api->last_error)
      if (const char* m = api->last_error(api->backend)) msg = m;
    return fail("kiln_backend_init failed with " + status_name(status) + (msg.empty() ? "" : ": " + msg));
  }
  if (api == nullptr) return fail("kiln_backend_init returned OK but no function table");
  if (api->abi_version > KILN_ABI_VERSION)
    return fail("plugin ABI version " + std::to_string(api->abi_version) + " is newer than this Kiln's (" +
                std::to_string(KILN_ABI_VERSION) + "); upgrade Kiln or use a plugin built for ABI " +
                std::to_string(KILN_ABI_VERSION));
  if (api->abi_version == 0) return fail("plugin declares ABI version 0, which does not exist");
  const size_t required_size = api->abi_version >= 2 ? kRequiredApiSizeV2 : kRequiredApiSize;
  if (api->struct_size < required_size || api->struct_size > (1u << 16))
    return fail("function table has struct_size " + std::to_string(api->struct_size) + ", expected at least " +
                std::to_string(required_size) + " for ABI version " + std::to_string(api->abi_version));
  if (api->name == nullptr || api->name[0] == '\0' || std::strlen(api->name) > 64)
    return fail("function table has no valid backend name");
  for (const char* c = api->name; *c; ++c)
    if (!(std::isalnum(static_cast<unsigned char>(*c)) || *c == '_' || *c == '-'))
      return fail(std::string("backend name '") + api->name + "' has characters other than letters, digits, _ and -");
  void* const* slots[] = {(void* const*)&api->last_error,   (void* const*)&api->device_count,
                          (void* const*)&api->device_get,   (void* const*)&api->device_props,
                          (void* const*)&api->buffer_alloc, (void* const*)&api->buffer_free,
                          (void* const*)&api->buffer_data,  (void* const*)&api->buffer_write,
                          (void* const*)&api->buffer_read,  (void* const*)&api->stream_create,
                          (void* const*)&api->stream_destroy, (void* const*)&api->stream_synchronize,
                          (void* const*)&api->supports};
  for (auto slot : slots)
    if (*slot == nullptr) return fail("function table has a null required slot");
  // A v1 plugin runs through launch; a v2 plugin through launch_v2 and every other v2 slot (its
  // v1 launch, for v1 hosts, may be NULL).
  if (api->abi_version < 2 && api->launch == nullptr) return fail("function table has a null required slot (launch)");
  if (api->abi_version >= 2) {
    void* const* v2_slots[] = {
        (void* const*)&api->event_create,       (void* const*)&api->event_destroy,
        (void* const*)&api->event_record,       (void* const*)&api->stream_wait_event,
        (void* const*)&api->event_synchronize,  (void* const*)&api->event_query,
        (void* const*)&api->buffer_write_async, (void* const*)&api->buffer_read_async,
        (void* const*)&api->buffer_copy,        (void* const*)&api->device_can_access_peer,
        (void* const*)&api->buffer_copy_peer,   (void* const*)&api->host_alloc,
        (void* const*)&api->host_free,          (void* const*)&api->buffer_import_host,
        (void* const*)&api->device_supports,    (void* const*)&api->launch_v2,
        (void* const*)&api->stream_failed_launch};
    for (auto slot : v2_slots)
      if (*slot == nullptr) return fail("function table declares ABI version 2 but has a null v2 slot");
  }

  auto entry = std::make_unique<BackendEntry>();
  entry->name = api->name;
  entry->version = api->version ? api->version : "?";
  entry->file = canonical;
  entry->api = api;
  entry->abi_version = api->abi_version;
  entry->priority = api->priority;
  entry->score = score;
  if (api->status_note) {
    if (const char* note = api->status_note(api->backend)) entry->status_note = note;
  }

  int32_t count = api->device_count(api->backend);
  if (count < 0 || count > 1024) return fail("device_count returned " + std::to_string(count));
  bool all_host = count > 0;
  for (int32_t i = 0; i < count; ++i) {
    auto dev = std::make_unique<DeviceEntry>();
    if (api->device_get(api->backend, i, &dev->handle) != KILN_STATUS_OK)
      return fail("device_get(" + std::to_string(i) + ") failed: " + entry->last_error());
    dev->props.struct_size = sizeof(kiln_device_props);
    dev->props.abi_version = KILN_ABI_VERSION;
    if (api->device_props(dev->handle, &dev->props) != KILN_STATUS_OK)
      return fail("device_props(" + std::to_string(i) + ") failed: " + entry->last_error());
    dev->props.name[sizeof(dev->props.name) - 1] = '\0';
    // v2 props fields count only when the plugin's props struct covers them (a v1 plugin's does not).
    dev->plugin_caches_memory = api->abi_version >= 2 &&
                                dev->props.struct_size >= offsetof(kiln_device_props, caches_memory) + sizeof(int32_t) &&
                                dev->props.caches_memory == 1;
    if (api->stream_create(dev->handle, &dev->stream) != KILN_STATUS_OK)
      return fail("stream_create on device " + std::to_string(i) + " failed: " + entry->last_error());
    all_host = all_host && dev->props.host_accessible;
    dev->allocator = std::make_unique<CachingAllocator>(entry.get(), dev.get());
    entry->devices.push_back(std::move(dev));
  }
  entry->host_accessible = all_host;
  if (count == 0 && entry->status_note.empty()) entry->status_note = "no device";

  if (BackendEntry* existing = find(entry->name)) {
    if (entry->score > existing->score) {
      // the better build replaces the earlier one for new tensors; the old entry stays valid
      failures_.push_back({existing->file, "superseded by " + entry->file + " (score " +
                                               std::to_string(entry->score) + " > " + std::to_string(existing->score) + ")"});
      std::erase(backends_, existing);
      std::erase(host_backends_, existing);
    } else {
      return fail("backend '" + entry->name + "' is already provided by " + existing->file);
    }
  }
  BackendEntry* raw = entry.release();  // lives for the process
  add(raw);
  log(KILN_LOG_DEBUG, "loaded backend '" + raw->name + "' " + raw->version + " from " + raw->file);
  return raw;
}

void Registry::add(BackendEntry* entry) {
  auto by_priority = [](const BackendEntry* a, const BackendEntry* b) { return a->priority > b->priority; };
  backends_.push_back(entry);
  std::stable_sort(backends_.begin(), backends_.end(), by_priority);
  if (entry->host_accessible) {
    host_backends_.push_back(entry);
    std::stable_sort(host_backends_.begin(), host_backends_.end(), by_priority);
  }
}

BackendEntry* Registry::find(const std::string& name) const {
  for (auto* b : backends_)
    if (b->name == name) return b;
  return nullptr;
}

}  // namespace kiln::detail
