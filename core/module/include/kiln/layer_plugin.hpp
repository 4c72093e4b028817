// Layer plugins: custom layers shipped as a shared library that the plugin host loads at run time.
//
// A third party writes a layer with Kiln ops (autograd comes free), registers it with
// KILN_REGISTER_LAYER as in an application, adds one KILN_LAYER_PLUGIN line, and builds a shared
// library against the installed SDK (find_package(Kiln) + kiln_add_layer_plugin, or any build
// system linking Kiln::core):
//
//   #include <kiln/layer_plugin.hpp>
//   class Swish : public kiln::nn::Module {
//    public:
//     explicit Swish(const kiln::nn::Config& c) : beta_(c.value("beta", 1.0)) {}
//     kiln::Tensor forward(const kiln::Tensor& x) override { return x * kiln::sigmoid(x * beta_); }
//     std::string type_name() const override { return "Swish"; }
//     kiln::nn::Config config() const override { return {{"beta", beta_}}; }
//    private:
//     double beta_;
//   };
//   KILN_REGISTER_LAYER(Swish, "Swish", 1)
//   KILN_LAYER_PLUGIN("swish-layers", "1.0.0")
//
// Dropped in a plugin folder (<prefix>/lib/kiln/layers, <prefix>/lib/kiln/backends, or a folder
// of KILN_PLUGIN_PATH), the library is loaded with the backends, before the first kiln::load,
// kiln::Device or tensor. Its layers are then saved and loaded like built-ins; a .kiln file
// records the plugin as the layer's provider, so loading a model without the plugin says which
// one to install.
//
// Note [Layer plugin registration is deferred]: in a translation unit that includes this header,
// KILN_REGISTER_LAYER does not register at static-initialization time (as it does in an
// application) but queues the layer; the host reads the queue through kiln_layer_plugin_init
// after it has checked the Kiln version the plugin was built against. So a plugin built for
// another major version is refused before any of its C++ code touches this libkiln, and a plugin
// whose layer name is already taken is refused as a whole (no half-registered plugin) with an
// error the process survives (an exception thrown from a static initializer inside dlopen could
// not be caught).
//
// The host refuses a layer plugin (the reason is in kiln::plugin_failures(), `kiln plugins` and
// the log) when it was built against another major version of Kiln, when one of its layer names
// is already registered (by Kiln, the application or another plugin), or when it is malformed.
#pragma once

#include <kiln/layer_plugin_host.hpp>
#include <kiln/nn/module.hpp>
#include <kiln/plugin/kiln_backend.h>  // KILN_PLUGIN_EXPORT
#include <kiln/nn/registry.hpp>
#include <kiln/version.hpp>

#include <cstdint>
#include <type_traits>
#include <vector>

namespace kiln {

namespace detail {
// The layers a plugin queued (one list per shared library: hidden visibility).
__attribute__((visibility("hidden"))) inline std::vector<nn::LayerPluginLayer>& plugin_layer_queue() {
  static std::vector<nn::LayerPluginLayer> queue;
  return queue;
}
template <typename T>
bool queue_plugin_layer(const char* name, int version) {
  static_assert(std::is_base_of_v<nn::Module, T>, "KILN_REGISTER_LAYER(Type, ...): Type must derive from nn::Module");
  plugin_layer_queue().push_back({name, static_cast<int32_t>(version), &make_layer_from_config<T>});
  return true;
}
}  // namespace detail

}  // namespace kiln

// Note [Layer plugin registration is deferred].
#undef KILN_REGISTER_LAYER
#define KILN_REGISTER_LAYER(Type, Name, Version) KILN_QUEUE_PLUGIN_LAYER_(Type, Name, Version, __COUNTER__)
#define KILN_QUEUE_PLUGIN_LAYER_(Type, Name, Version, N) KILN_QUEUE_PLUGIN_LAYER2_(Type, Name, Version, N)
#define KILN_QUEUE_PLUGIN_LAYER2_(Type, Name, Version, N)                                                   \
  namespace {                                                                                               \
  const bool kiln_layer_queued_##N = ::kiln::detail::queue_plugin_layer<Type>(Name, Version);               \
  }

// KILN_LAYER_PLUGIN("name", "version"): once per plugin, at namespace scope in one .cpp file.
// Defines the entry point kiln_layer_plugin_init, which hands the host every layer queued with
// KILN_REGISTER_LAYER in the plugin's translation units (each including this header).
#define KILN_LAYER_PLUGIN(PluginName, PluginVersion)                                                       \
  extern "C" KILN_PLUGIN_EXPORT const kiln_layer_plugin_desc* kiln_layer_plugin_init(                       \
      uint32_t, uint32_t, uint32_t) {                                                                       \
    static kiln_layer_plugin_desc desc;                                                                     \
    const auto& queue = ::kiln::detail::plugin_layer_queue();                                               \
    desc.struct_size = sizeof(kiln_layer_plugin_desc);                                                      \
    desc.kiln_version_major = KILN_VERSION_MAJOR;                                                           \
    desc.kiln_version_minor = KILN_VERSION_MINOR;                                                           \
    desc.kiln_version_patch = KILN_VERSION_PATCH;                                                           \
    desc.name = PluginName;                                                                                 \
    desc.version = PluginVersion;                                                                           \
    desc.num_layers = static_cast<uint32_t>(queue.size());                                                  \
    desc.layers = queue.data();                                                                             \
    return &desc;                                                                                           \
  }
