// Private: the loaded backends and their devices (the plugin host's state).
#pragma once

#include <kiln/device.hpp>
#include <kiln/plugin/kiln_backend.h>

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace kiln::detail {

class CachingAllocator;

struct DeviceEntry {
  kiln_device_t handle = nullptr;
  kiln_device_props props{};
  kiln_stream_t stream = nullptr;
  std::unique_ptr<CachingAllocator> allocator;
  // The plugin caches behind buffer_alloc/free (props.caches_memory, v2): the allocator does not
  // cache on top of it.
  bool plugin_caches_memory = false;
  // The ABI's threading contract: one thread at a time per stream (kiln_backend.h, "Threading").
  // Held for every launch, copy, event record and synchronize on `stream`.
  std::mutex stream_mutex;
  // The side stream for copies that overlap compute (Tensor::to(device, true), the DataLoader's
  // `device`), created on first use, under its own mutex (Note [Transfers] in transfer.cpp).
  kiln_stream_t copy_stream = nullptr;
  std::mutex copy_stream_mutex;
  // Note [Deferred errors]: the op of each recent launch on an asynchronous device, by launch id,
  // so an error found at synchronize names the op that failed (a ring; older launches fall out).
  static constexpr size_t kRecentLaunches = 1024;
  std::array<std::pair<uint64_t, int32_t>, kRecentLaunches> recent_launches{};
};

struct BackendEntry {
  std::string name;
  std::string version;
  std::string file;
  const kiln_backend_api* api = nullptr;
  uint32_t abi_version = 0;
  int32_t priority = 0;
  int32_t score = 0;
  bool host_accessible = false;  // all its devices are host memory
  std::string status_note;
  std::vector<std::unique_ptr<DeviceEntry>> devices;

  // True when the plugin's table is long enough to hold the slot at this offset.
  bool has_slot(size_t slot_offset, size_t slot_size) const { return api->struct_size >= slot_offset + slot_size; }
  std::string last_error() const;
  DeviceEntry& device(int32_t index);
};

class Registry {
 public:
  static Registry& get();

  // Highest priority first.
  const std::vector<BackendEntry*>& backends() const { return backends_; }
  // Host-accessible backends, highest priority first (the fallback chain).
  const std::vector<BackendEntry*>& host_backends() const { return host_backends_; }
  const std::vector<PluginFailure>& failures() const { return failures_; }
  const std::vector<std::string>& search_path() const { return search_path_; }
  BackendEntry* find(const std::string& name) const;
  // Loads one file; returns the entry (nullptr for a layer plugin) or throws PluginError.
  BackendEntry* load_file(const std::string& path);

  Device default_device();
  void set_default_device(const Device& d);

 private:
  Registry();
  void discover();
  void add(BackendEntry* entry);
  std::mutex mutex_;
  std::vector<BackendEntry*> backends_;
  std::vector<BackendEntry*> host_backends_;
  std::vector<PluginFailure> failures_;
  std::vector<std::string> search_path_;
  std::vector<std::string> loaded_files_;
  Device default_;
  bool default_set_ = false;
};

// Note [Plugin kinds]: the runtime loads backend plugins itself and knows no other kind of plugin.
// A layer above it (the module layer's layer plugins) registers the entry symbol its plugins export
// and a loader; a file without kiln_backend_init is offered to each kind whose symbol it exports.
// The loader returns "" when it took the plugin, or why it refused it. Kinds register during static
// initialization of the library that defines them, before any discovery can run.
using PluginKindLoader = std::string (*)(void* entry_symbol, const std::string& file);
void register_plugin_kind(const char* entry_symbol, PluginKindLoader loader);

// Runs plugin discovery once (loading layer plugins, so their layers can be found); a no-op on
// the thread that is discovering.
void discover_plugins();

// Log to stderr, filtered by KILN_LOG_LEVEL (debug, info, warn (default), error, off).
void log(kiln_log_level level, const std::string& message);

}  // namespace kiln::detail
