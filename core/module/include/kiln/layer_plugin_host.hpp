// The layer plugin interface shared by the plugin host and layer plugins, and the host's queries.
// Plugin authors include <kiln/layer_plugin.hpp> (which includes this); applications may include
// this header to list or load layer plugins without changing what KILN_REGISTER_LAYER does.
#pragma once

#include <kiln/nn/module.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::nn {
// A plugin's layer as the host reads it.
struct LayerPluginLayer {
  const char* type_name;                   // registry key, e.g. "Swish"
  int32_t version;                         // >= 1, as KILN_REGISTER_LAYER's
  ModulePtr (*factory)(const Config& config);
};
}  // namespace kiln::nn

extern "C" {
// What kiln_layer_plugin_init returns. The first six fields keep their meaning in every Kiln
// version, so any host can read the version a plugin was built for and refuse it cleanly.
typedef struct kiln_layer_plugin_desc {
  uint32_t struct_size;
  uint32_t kiln_version_major;  // the Kiln SDK the plugin was compiled against
  uint32_t kiln_version_minor;
  uint32_t kiln_version_patch;
  const char* name;     // the plugin's name, e.g. "swish-layers"
  const char* version;  // the plugin's own version, e.g. "1.0.0"
  // Read only when the major versions match:
  uint32_t num_layers;
  const kiln::nn::LayerPluginLayer* layers;
} kiln_layer_plugin_desc;

// Exported by every layer plugin (KILN_LAYER_PLUGIN defines it). Receives the host's Kiln version;
// returns the plugin's description (static storage), never null, never throws.
typedef const kiln_layer_plugin_desc* (*kiln_layer_plugin_init_fn)(uint32_t host_major, uint32_t host_minor,
                                                                   uint32_t host_patch);
}
#define KILN_LAYER_PLUGIN_INIT_SYMBOL "kiln_layer_plugin_init"

namespace kiln {

// A loaded layer plugin.
struct LayerPluginInfo {
  std::string name;
  std::string version;
  std::string file;                 // the shared library
  std::string built_for;            // the Kiln version it was built against, "0.1.0"
  std::vector<std::string> layers;  // the layer types it registered
};

// Layer plugins loaded so far (discovery runs on first use of the plugin host).
std::vector<LayerPluginInfo> layer_plugins();
// Loads one layer plugin file now and registers its layers; throws PluginError naming the file
// and the reason (not a layer plugin, another major version, a layer name already taken, ...).
LayerPluginInfo load_layer_plugin(const std::string& path);

}  // namespace kiln
