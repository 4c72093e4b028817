// A plugin built with the host-backend kit whose initialize() fails: the kit must turn the
// exception into a status at the C boundary, and the host must refuse the plugin.
#include <kiln/plugin/host_backend.hpp>

namespace {

class KitInitFails final : public kiln::plugin::HostBackend {
 public:
  KitInitFails() : HostBackend("kitfails", "0.0.1", 0) {}
  bool supports(kiln_op, const int32_t*, int32_t, const void*) override { return false; }
  void launch(kiln_op, const kiln_tensor_desc*, int32_t, const kiln_tensor_desc*, int32_t, const void*) override {}
  void initialize(const kiln_host_api*) override {
    kiln::plugin::fail(KILN_STATUS_NO_DEVICE, "test: kit initialize failed");
  }
};

}  // namespace

KILN_EXPORT_HOST_BACKEND(KitInitFails)
