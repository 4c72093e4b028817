// Saving and loading models and training checkpoints as .kiln files (docs/file-format.md).
//
// A .kiln file is a fixed 64-byte header, a UTF-8 JSON section (the architecture tree, the tensor
// index, optimizer state, epoch, RNG state, metadata) and the tensors, raw, little-endian, each
// 64-byte aligned. It holds no code: loading rebuilds each layer through the layer registry
// (nn::register_layer / KILN_REGISTER_LAYER), so a model loads without its source, and a hostile
// file can at worst raise kiln::DataError.
//
//   kiln::save(*net, "lenet.kiln");
//   nn::ModulePtr net2 = kiln::load("lenet.kiln");
//
// Errors:
//   save: ValueError when a layer's type is not registered (the message names the layer path and
//         type) or its config cannot be written as JSON; DataError when the file cannot be
//         written (the message names the file and the reason). A failed save leaves any previous
//         file at `path` untouched and no temporary file behind.
//   load: DataError for anything wrong with the file (truncated, corrupted, hostile, an unknown
//         or too-new layer type); the message is "<file>: byte <offset>: <reason>".
#pragma once

#include <kiln/nn/module.hpp>
#include <kiln/tensor.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace kiln {

namespace optim {
class Optimizer;
}

// Writes the model's architecture (each layer's registered type, version, provider and config),
// parameters and buffers to `path`, atomically (temporary file in the same folder, fsync, rename).
void save(const nn::Module& model, const std::string& path);

// Rebuilds the model saved at `path` from the layer registry and loads its tensors, created on
// the default device. The model comes back in the train/eval mode it was saved in.
nn::ModulePtr load(const std::string& path);

// A training checkpoint as read back by load_checkpoint.
struct Checkpoint {
  nn::ModulePtr model;
  std::string optimizer;                            // Optimizer::name(), "" when none was saved
  std::map<std::string, Tensor> optimizer_state;    // for Optimizer::load_state_dict
  int64_t epoch = -1;
  uint64_t rng_seed = 0, rng_offset = 0;            // for default_generator().set_state
  bool has_rng = false;
  nlohmann::ordered_json metadata;                  // what the caller passed to save_checkpoint
};

// Saves the model, the optimizer's state_dict() (when optimizer is not null), the epoch, the
// default generator's state (seed and offset) and free-form metadata, atomically.
void save_checkpoint(const std::string& path, const nn::Module& model, const optim::Optimizer* optimizer,
                     int64_t epoch, const nlohmann::ordered_json& metadata = {});

// Reads a checkpoint (or a plain model file: then optimizer is "", epoch -1, has_rng false).
// The caller resumes with optimizer.load_state_dict(ck.optimizer_state) and
// default_generator().set_state(ck.rng_seed, ck.rng_offset).
Checkpoint load_checkpoint(const std::string& path);

// The JSON section of a .kiln file plus a "header" object with the fixed header's fields
// (format_version, flags, json_offset, json_length, data_offset, data_length, file_size). Checks
// the header, the JSON checksum and the tensor index, but neither reads the tensors nor rebuilds
// the model (for `kiln summary`). Throws DataError like load.
nlohmann::ordered_json read_kiln_header(const std::string& path);

// The .kiln format version this build writes and the newest it reads.
inline constexpr uint32_t kKilnFormatVersion = 1;

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
