// The layer registry (kiln/nn/registry.hpp).
#include <kiln/error.hpp>
#include <kiln/nn/registry.hpp>

#include <dlfcn.h>

#include <map>
#include <mutex>

#include "plugin_host/registry.hpp"  // discover_plugins: a layer plugin may provide a missing type

namespace kiln {

namespace detail {
std::string library_of(const void* address) {
  Dl_info info{};
  if (address != nullptr && dladdr(address, &info) != 0 && info.dli_fname != nullptr) return info.dli_fname;
  return "";
}
}  // namespace detail

namespace nn {

namespace {
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, LayerRegistration>& layer_registry() {
  static std::map<std::string, LayerRegistration> r;
  return r;
}
}  // namespace

void register_layer(const std::string& type_name, int version, LayerFactory factory, const std::string& provider) {
  std::lock_guard lock(registry_mutex());
  auto& r = layer_registry();
  auto it = r.find(type_name);
  KILN_CHECK(it == r.end(), ValueError, "register_layer: the layer name '", type_name, "' is already registered by ",
             it == r.end() ? "" : it->second.provider, "; choose another name");
  r[type_name] = LayerRegistration{type_name, version, provider, std::move(factory)};
}

const LayerRegistration* find_layer(const std::string& type_name) {
  auto lookup = [&]() -> const LayerRegistration* {
    std::lock_guard lock(registry_mutex());
    auto& r = layer_registry();
    auto it = r.find(type_name);
    return it == r.end() ? nullptr : &it->second;
  };
  if (const LayerRegistration* found = lookup()) return found;
  detail::discover_plugins();  // a layer plugin may provide it
  return lookup();
}

std::vector<std::string> registered_layers() {
  std::lock_guard lock(registry_mutex());
  std::vector<std::string> out;
  for (auto& [n, r] : layer_registry()) out.push_back(n);
  return out;
}

}  // namespace nn
}  // namespace kiln
