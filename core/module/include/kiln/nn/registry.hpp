// The layer registry: type name -> factory from a layer's Config. kiln::load rebuilds saved models
// through it, layer plugins add to it, and KILN_REGISTER_LAYER registers an application's own
// layers. Part of the thin core (libkiln): an inference app that loads models needs it, and it
// knows nothing of files.
#pragma once

#include <kiln/nn/module.hpp>

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace kiln::nn {

// Layer registry: type name -> factory from Config (used by kiln::load).
using LayerFactory = std::function<ModulePtr(const Config&)>;
struct LayerRegistration {
  std::string type_name;
  int version = 1;
  std::string provider;  // "kiln" for built-ins, a plugin file for layer plugins
  LayerFactory factory;
};
// Registers a layer type; throws ValueError if the name is taken.
void register_layer(const std::string& type_name, int version, LayerFactory factory, const std::string& provider = "kiln");
const LayerRegistration* find_layer(const std::string& type_name);
std::vector<std::string> registered_layers();

}  // namespace kiln::nn

namespace kiln {
namespace detail {
// The shared library (or executable) that holds `address`, for a layer's provider; "" if unknown.
std::string library_of(const void* address);

template <typename T>
nn::ModulePtr make_layer_from_config(const nn::Config& config) {
  if constexpr (requires { T::from_config(config); }) {
    auto made = T::from_config(config);
    if constexpr (requires { made.ptr(); }) {
      return made.ptr();  // a ModuleHolder
    } else if constexpr (std::is_convertible_v<decltype(made), nn::ModulePtr>) {
      return made;  // a shared_ptr
    } else {
      return std::make_shared<std::remove_cvref_t<decltype(made)>>(std::move(made));
    }
  } else {
    static_assert(std::is_constructible_v<T, const nn::Config&>,
                  "KILN_REGISTER_LAYER(Type, ...): Type needs a static from_config(const nn::Config&) or a "
                  "constructor taking const nn::Config&");
    return std::make_shared<T>(config);
  }
}

template <typename T>
bool register_layer_type(const char* name, int version, const void* address) {
  static_assert(std::is_base_of_v<nn::Module, T>, "KILN_REGISTER_LAYER(Type, ...): Type must derive from nn::Module");
  nn::register_layer(name, version, &make_layer_from_config<T>, library_of(address));
  return true;
}
}  // namespace detail
}  // namespace kiln

// KILN_REGISTER_LAYER(Type, "Name", version): registers a user layer so save() can write it and
// load() can rebuild it. Use it at namespace scope in one .cpp file (the one that defines Type).
//   - Type derives from nn::Module; its type_name() must return "Name" and its config() must hold
//     everything needed to rebuild it.
//   - Type is built from its config with `static X from_config(const nn::Config&)` when it has
//     one (X: a ModuleHolder, a shared_ptr to a Module, or a Module value), else with a
//     constructor `Type(const nn::Config&)`.
//   - version (>= 1) goes in each saved file; bump it when config() changes, and keep accepting
//     the older configs (load refuses files whose version is newer than the registered one).
//   - The provider recorded in files is the shared library (or program) the registration is in,
//     so load can tell a user which layer plugin to install.
// Children the factory creates are matched by name with the file's; other children listed in the
// file are created from the registry and attached with register_module, in file order.
#define KILN_REGISTER_LAYER(Type, Name, Version) \
  KILN_REGISTER_LAYER_IMPL_(Type, Name, Version, __COUNTER__)
#define KILN_REGISTER_LAYER_IMPL_(Type, Name, Version, N) KILN_REGISTER_LAYER_IMPL2_(Type, Name, Version, N)
#define KILN_REGISTER_LAYER_IMPL2_(Type, Name, Version, N)                                              \
  namespace {                                                                                         \
  const bool kiln_layer_registered_##N = ::kiln::detail::register_layer_type<Type>(                   \
      Name, Version, static_cast<const void*>(&kiln_layer_registered_##N));                           \
  }
