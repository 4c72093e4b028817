// The plugin host's half of layer plugins (kiln/layer_plugin.hpp): the version check, the
// all-or-nothing registration of a plugin's layers, and the public listing.
#include "plugin_host/registry.hpp"

#include <kiln/error.hpp>
#include <kiln/layer_plugin_host.hpp>
#include <kiln/nn/registry.hpp>
#include <kiln/version.hpp>

#include <cstddef>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>

namespace kiln::detail {

namespace {
std::string version_string(uint32_t major, uint32_t minor, uint32_t patch) {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}
constexpr size_t kDescHeadSize = offsetof(kiln_layer_plugin_desc, num_layers);
constexpr size_t kDescV1Size = offsetof(kiln_layer_plugin_desc, layers) + sizeof(void*);

std::mutex& layer_plugins_mutex() {
  static std::mutex m;
  return m;
}
std::vector<LayerPluginInfo>& loaded_layer_plugins() {
  static std::vector<LayerPluginInfo> plugins;
  return plugins;
}

// Checks and registers a layer plugin's layers; returns the reason it was refused, or "" when it
// was loaded. Runs on the discovering thread (Note [Plugin kinds]).
std::string load_layer_plugin_file(void* entry, const std::string& file) {
  auto init = reinterpret_cast<kiln_layer_plugin_init_fn>(entry);
  const kiln_layer_plugin_desc* desc = nullptr;
  try {
    desc = init(KILN_VERSION_MAJOR, KILN_VERSION_MINOR, KILN_VERSION_PATCH);
  } catch (const std::exception& e) {
    return std::string("kiln_layer_plugin_init threw an exception: ") + e.what();
  } catch (...) {
    return "kiln_layer_plugin_init threw an exception";
  }
  if (desc == nullptr) return "kiln_layer_plugin_init returned no description";
  if (desc->struct_size < kDescHeadSize || desc->struct_size > (1u << 16))
    return "layer plugin description has struct_size " + std::to_string(desc->struct_size) +
           ", expected at least " + std::to_string(kDescHeadSize);
  const std::string built_for =
      version_string(desc->kiln_version_major, desc->kiln_version_minor, desc->kiln_version_patch);
  if (desc->kiln_version_major != KILN_VERSION_MAJOR)
    return "layer plugin built for Kiln " + built_for + ", but this is Kiln " KILN_VERSION_STRING
           " (major versions differ); rebuild it against Kiln " KILN_VERSION_STRING;
  if (desc->struct_size < kDescV1Size)
    return "layer plugin description has struct_size " + std::to_string(desc->struct_size) + ", expected at least " +
           std::to_string(kDescV1Size);
  const std::string name = desc->name && *desc->name ? desc->name : std::filesystem::path(file).filename().string();
  const std::string version = desc->version && *desc->version ? desc->version : "?";
  if (desc->num_layers > 0 && desc->layers == nullptr) return "layer plugin '" + name + "' lists layers but no table";
  if (desc->num_layers > 4096) return "layer plugin '" + name + "' lists " + std::to_string(desc->num_layers) + " layers";

  // Check every layer before registering any, so a refused plugin leaves the registry untouched.
  std::set<std::string> seen;
  for (uint32_t i = 0; i < desc->num_layers; ++i) {
    const nn::LayerPluginLayer& layer = desc->layers[i];
    if (layer.type_name == nullptr || *layer.type_name == '\0' || layer.factory == nullptr || layer.version < 1)
      return "layer plugin '" + name + "': entry " + std::to_string(i) + " has no name, no factory or a version < 1";
    if (!seen.insert(layer.type_name).second)
      return "layer plugin '" + name + "' registers layer '" + layer.type_name + "' twice";
    if (const nn::LayerRegistration* taken = nn::find_layer(layer.type_name))
      return "layer plugin '" + name + "' registers layer '" + layer.type_name + "', but that name is already taken by " +
             (taken->provider.empty() ? std::string("the program") : "'" + taken->provider + "'") +
             "; the plugin was not loaded (rename the layer or remove one of the two)";
  }
  // Note [Layer provider]: files record the plugin's file name, which is what a user must install.
  const std::string provider = std::filesystem::path(file).filename().string();
  LayerPluginInfo info{name, version, file, built_for, {}};
  for (uint32_t i = 0; i < desc->num_layers; ++i) {
    const nn::LayerPluginLayer& layer = desc->layers[i];
    nn::register_layer(layer.type_name, layer.version, layer.factory, provider);
    info.layers.push_back(layer.type_name);
  }
  log(KILN_LOG_DEBUG, "loaded layer plugin '" + name + "' " + version + " from " + file);
  std::lock_guard lock(layer_plugins_mutex());
  loaded_layer_plugins().push_back(std::move(info));
  return "";
}

[[maybe_unused]] const bool kLayerPluginKindRegistered =
    (register_plugin_kind(KILN_LAYER_PLUGIN_INIT_SYMBOL, &load_layer_plugin_file), true);
}  // namespace

}  // namespace kiln::detail

namespace kiln {

std::vector<LayerPluginInfo> layer_plugins() {
  detail::discover_plugins();
  std::lock_guard lock(detail::layer_plugins_mutex());
  return detail::loaded_layer_plugins();
}

LayerPluginInfo load_layer_plugin(const std::string& path) {
  auto& registry = detail::Registry::get();
  size_t before = layer_plugins().size();
  detail::BackendEntry* backend = registry.load_file(path);
  std::lock_guard lock(detail::layer_plugins_mutex());
  KILN_CHECK(backend == nullptr && detail::loaded_layer_plugins().size() == before + 1, PluginError, path,
             " is a backend plugin, not a layer plugin; the backend '", backend ? backend->name : "", "' was loaded");
  return detail::loaded_layer_plugins().back();
}

}  // namespace kiln
