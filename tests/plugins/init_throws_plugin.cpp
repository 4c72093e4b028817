// A plugin whose entry point lets a C++ exception escape, which the ABI forbids. The host must
// catch it and report the plugin instead of terminating.
#include <kiln/plugin/kiln_backend.h>

#include <stdexcept>

extern "C" KILN_PLUGIN_EXPORT kiln_status kiln_backend_init(const kiln_host_api*, uint32_t, const kiln_backend_api**) {
  throw std::runtime_error("test: init threw");
}
