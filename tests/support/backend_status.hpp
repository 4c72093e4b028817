// Why a backend cannot serve a test: the one message the conformance test, the device variants
// (device_env.cpp) and the CUDA backend's tests skip with.
#ifndef KILN_TESTS_SUPPORT_BACKEND_STATUS_HPP
#define KILN_TESTS_SUPPORT_BACKEND_STATUS_HPP

#include <kiln/device.hpp>

#include <string>

namespace kiln_test {

// "" when backend `name` is loaded and has a device; otherwise why not: "backend 'cuda' is not
// loaded (FILE: the loader's reason)" or "backend 'cuda' has no device: its status note".
inline std::string why_backend_unusable(const std::string& name) {
  for (const kiln::BackendInfo& b : kiln::backends()) {
    if (b.name != name) continue;
    return b.devices.empty() ? "backend '" + name + "' has no device: " + b.status_note : "";
  }
  std::string why = "backend '" + name + "' is not loaded";
  for (const kiln::PluginFailure& f : kiln::plugin_failures())
    if (f.file.find("kiln_backend_" + name) != std::string::npos) why += " (" + f.file + ": " + f.reason + ")";
  return why;
}

}  // namespace kiln_test

#endif  // KILN_TESTS_SUPPORT_BACKEND_STATUS_HPP
