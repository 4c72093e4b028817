// Runs a test executable's tests on another device: with KILN_TEST_DEVICE=cuda (say) set, the
// device becomes the default for every tensor the tests make, so the CPU tests of autograd,
// gradcheck and training run unchanged on a GPU. Where that device does not exist here (no plugin,
// no GPU, no driver) the executable prints why and exits 77, which CTest reports as skipped
// (SKIP_RETURN_CODE in tests/CMakeLists.txt).
#include "backend_status.hpp"

#include <kiln/device.hpp>
#include <kiln/error.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

constexpr int kSkipExitCode = 77;

[[noreturn]] void skip(const std::string& device, const std::string& why) {
  std::printf("SKIPPED: KILN_TEST_DEVICE=%s: %s\n", device.c_str(), why.c_str());
  std::fflush(stdout);
  std::exit(kSkipExitCode);
}

// Before main (gtest_main's), so not a single test runs on the wrong device.
const bool kTestDeviceChosen = [] {
  const char* spec = std::getenv("KILN_TEST_DEVICE");
  if (spec == nullptr || *spec == '\0') return false;
  const std::string device(spec);
  const std::string backend = device.substr(0, device.find(':'));
  if (std::string why = kiln_test::why_backend_unusable(backend); !why.empty()) skip(device, why);
  for (const kiln::BackendInfo& b : kiln::backends()) {
    if (b.name != backend) continue;
    try {
      kiln::set_default_device(kiln::Device(device));
    } catch (const kiln::Error& e) {
      skip(device, e.what());
    }
    std::printf("tests run on %s (%s)\n", device.c_str(), b.devices.front().name.c_str());
    return true;
  }
  skip(device, "backend '" + backend + "' disappeared while choosing the device");
}();

}  // namespace
