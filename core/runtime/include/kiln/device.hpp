// Devices and the backends behind them.
//
// A Device names a backend plugin and one of its devices: "ref:0", "tbb", "cuda:1". "cpu" means
// the host backend of highest priority (blas > tbb > ref when all are loaded). The default device
// is KILN_BACKEND's value when set, else "cpu"; set_default_device changes it for the process.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

namespace detail {
struct BackendEntry;
}

class Device {
 public:
  Device() = default;  // the default device, resolved on first use
  Device(const char* spec);  // NOLINT: "cuda:0", "cpu", ...
  Device(std::string_view spec);  // NOLINT
  Device(const std::string& spec) : Device(std::string_view(spec)) {}  // NOLINT
  Device(detail::BackendEntry* backend, int32_t index) : backend_(backend), index_(index) {}

  // "tbb:0"
  std::string str() const;
  const std::string& backend_name() const;
  int32_t index() const { return index_; }
  // True when the memory is host memory any host backend can read.
  bool is_host() const;
  bool operator==(const Device& o) const { return entry() == o.entry() && index_ == o.index_; }
  bool operator!=(const Device& o) const { return !(*this == o); }

  detail::BackendEntry* entry() const;

 private:
  mutable detail::BackendEntry* backend_ = nullptr;
  mutable int32_t index_ = 0;
};

Device default_device();
// Chooses the device new tensors go to; throws DeviceError if no loaded backend has it.
void set_default_device(const Device& device);
// Blocks until every op queued on the device has finished (ops on a GPU run asynchronously; the
// host backends finish each op before returning). Throws DeviceError with the backend's message
// if queued work failed. Like torch.cuda.synchronize(); time GPU work only after calling it.
void synchronize(const Device& device = default_device());
// With KILN_PROFILE=1 (docs/user-guide.md §11): forget the ops timed so far (to leave warm-up
// out), or print the table now (it is printed at exit too). Nothing happens without it.
void reset_op_profile();
void print_op_profile();

struct DeviceInfo {
  std::string name;
  std::string kind;  // "cpu", "gpu", "other"
  bool host_accessible = false;
  uint64_t total_memory = 0;
  uint64_t free_memory = 0;
  int32_t compute_units = 0;
};

struct BackendInfo {
  std::string name;
  std::string version;
  std::string file;          // the shared library it came from
  uint32_t abi_version = 0;
  int32_t priority = 0;
  int32_t score = 0;         // kiln_backend_score(), 0 when the plugin has none
  std::string status_note;   // why it has no usable device, if so
  std::vector<DeviceInfo> devices;
  std::vector<std::string> supported_ops;  // ops supported for at least one dtype
};

struct PluginFailure {
  std::string file;
  std::string reason;
};

// Loaded backends, highest priority first (loads plugins on first call).
std::vector<BackendInfo> backends();
// Plugins that failed to load, with the reason.
std::vector<PluginFailure> plugin_failures();
// The folders searched for plugins, in order.
std::vector<std::string> plugin_search_path();
// Loads one more plugin file now; throws PluginError with the file and reason on failure.
BackendInfo load_plugin(const std::string& path);

}  // namespace kiln
