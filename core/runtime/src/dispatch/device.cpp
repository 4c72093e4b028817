#include "dispatch/dispatch.hpp"
#include "plugin_host/registry.hpp"

#include <kiln/device.hpp>
#include <kiln/error.hpp>
#include <kiln/plugin/kiln_backend.h>
#include <kiln/plugin/op_info.h>

#include <charconv>
#include <cstdlib>

namespace kiln {

namespace {

std::string available_names() {
  std::string names;
  for (auto* b : detail::Registry::get().backends()) names += (names.empty() ? "" : ", ") + b->name;
  return names.empty() ? "none (no backend plugin loaded; see `kiln plugins`)" : names;
}

Device resolve(std::string_view spec) {
  auto& reg = detail::Registry::get();
  std::string name(spec);
  int32_t index = 0;
  if (auto colon = spec.find(':'); colon != std::string_view::npos) {
    name = std::string(spec.substr(0, colon));
    auto digits = spec.substr(colon + 1);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    KILN_CHECK(ec == std::errc() && ptr == digits.data() + digits.size() && index >= 0, DeviceError,
               "device '", spec, "': expected <backend>[:<index>] with a non-negative index");
  }
  if (name == "cpu" || name == "host") {
    const auto& hosts = reg.host_backends();
    KILN_CHECK(!hosts.empty(), DeviceError, "device '", spec, "': no host backend is loaded; available: ",
               available_names());
    KILN_CHECK(index == 0, DeviceError, "device '", spec, "': the host has one device, index 0");
    return Device(hosts.front(), 0);
  }
  detail::BackendEntry* b = reg.find(name);
  KILN_CHECK(b != nullptr, DeviceError, "device '", spec, "': no backend named '", name,
             "' is loaded; available: ", available_names());
  b->device(index);  // throws if out of range, with the backend's status note
  return Device(b, index);
}

}  // namespace

Device::Device(const char* spec) : Device(std::string_view(spec)) {}
Device::Device(std::string_view spec) {
  Device d = resolve(spec);
  backend_ = d.backend_;
  index_ = d.index_;
}

detail::BackendEntry* Device::entry() const {
  if (backend_ == nullptr) {
    Device d = detail::Registry::get().default_device();
    backend_ = d.backend_;
    index_ = d.index_;
  }
  return backend_;
}

std::string Device::str() const { return entry()->name + ":" + std::to_string(index_); }
const std::string& Device::backend_name() const { return entry()->name; }
bool Device::is_host() const { return entry()->host_accessible; }

Device detail::Registry::default_device() {
  std::lock_guard lock(mutex_);
  if (!default_set_) {
    const char* env = std::getenv("KILN_BACKEND");
    default_ = resolve(env && *env ? env : "cpu");
    default_set_ = true;
  }
  return default_;
}

void detail::Registry::set_default_device(const Device& d) {
  d.entry();
  std::lock_guard lock(mutex_);
  default_ = d;
  default_set_ = true;
}

Device default_device() { return detail::Registry::get().default_device(); }
void set_default_device(const Device& device) { detail::Registry::get().set_default_device(device); }

namespace {
BackendInfo info_of(detail::BackendEntry* b) {
  BackendInfo info;
  info.name = b->name;
  info.version = b->version;
  info.file = b->file;
  info.abi_version = b->abi_version;
  info.priority = b->priority;
  info.score = b->score;
  info.status_note = b->status_note;
  for (auto& d : b->devices) {
    DeviceInfo di;
    di.name = d->props.name;
    di.kind = d->props.kind == KILN_DEVICE_CPU ? "cpu" : d->props.kind == KILN_DEVICE_GPU ? "gpu" : "other";
    di.host_accessible = d->props.host_accessible != 0;
    di.total_memory = d->props.total_memory;
    // Free memory changes as the program runs: ask the backend now, not at load time.
    kiln_device_props now = d->props;
    di.free_memory = b->api->device_props(d->handle, &now) == KILN_STATUS_OK ? now.free_memory : d->props.free_memory;
    di.compute_units = d->props.compute_units;
    info.devices.push_back(di);
  }
  for (int op = 0; op < KILN_OP_COUNT; ++op) {
    for (int dt = 0; dt < KILN_DTYPE_COUNT; ++dt) {
      auto dtypes = detail::op_signature(static_cast<kiln_op>(op), static_cast<DType>(dt));
      if (detail::backend_claims(b, static_cast<kiln_op>(op), dtypes, nullptr)) {
        info.supported_ops.push_back(kiln_op_name(op));
        break;
      }
    }
  }
  return info;
}
}  // namespace

std::vector<BackendInfo> backends() {
  std::vector<BackendInfo> out;
  for (auto* b : detail::Registry::get().backends()) out.push_back(info_of(b));
  return out;
}

void synchronize(const Device& device) { detail::synchronize(device); }
void reset_op_profile() { detail::reset_op_profile(); }
void print_op_profile() { detail::print_op_profile(); }

std::vector<PluginFailure> plugin_failures() { return detail::Registry::get().failures(); }
std::vector<std::string> plugin_search_path() { return detail::Registry::get().search_path(); }
BackendInfo load_plugin(const std::string& path) {
  detail::BackendEntry* entry = detail::Registry::get().load_file(path);
  // A layer plugin (kiln/layer_plugin.hpp) has no backend to describe; its layers are registered.
  KILN_CHECK(entry != nullptr, PluginError, path,
             " is a layer plugin, not a backend plugin; its layers are now registered (see kiln::layer_plugins())");
  return info_of(entry);
}

}  // namespace kiln
