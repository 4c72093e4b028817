// Saving and loading models and training checkpoints as .kiln files (docs/file-format.md).
//
// A .kiln file is a fixed 64-byte header, a UTF-8 JSON section (the architecture tree, the tensor
// index, optimizer state, epoch, RNG state, metadata) and the tensors, raw, little-endian, each
// 64-byte aligned. It holds no code: loading rebuilds each layer through the layer registry
// (nn::register_layer / KILN_REGISTER_LAYER, kiln/nn/registry.hpp), so a model loads without its source, and a hostile
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
#include <kiln/nn/registry.hpp>  // KILN_REGISTER_LAYER, which save and load rely on
#include <kiln/tensor.hpp>

#include <nlohmann/json.hpp>

#include <concepts>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace kiln {

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

// An optimizer's state as a checkpoint stores it: Optimizer::name() and Optimizer::state_dict().
// (Serialization knows no optimizer class, so an inference app that loads models does not link the
// optimizers; the template below takes any optimizer.)
struct OptimizerState {
  std::string name;
  std::map<std::string, Tensor> tensors;
};

// Saves the model, the optimizer state (when not null), the epoch, the default generator's state
// (seed and offset) and free-form metadata, atomically.
void save_checkpoint(const std::string& path, const nn::Module& model, const OptimizerState* optimizer,
                     int64_t epoch, const nlohmann::ordered_json& metadata = {});
// The same for an optim::Optimizer (or anything with name() and state_dict()):
//   kiln::save_checkpoint("ck.kiln", *net, &sgd, epoch);
template <typename Optimizer>
  requires requires(const Optimizer& o) {
    { o.name() } -> std::convertible_to<std::string>;
    { o.state_dict() } -> std::convertible_to<std::map<std::string, Tensor>>;
  }
void save_checkpoint(const std::string& path, const nn::Module& model, const Optimizer* optimizer, int64_t epoch,
                     const nlohmann::ordered_json& metadata = {}) {
  if (optimizer == nullptr) {
    save_checkpoint(path, model, static_cast<const OptimizerState*>(nullptr), epoch, metadata);
    return;
  }
  const OptimizerState state{optimizer->name(), optimizer->state_dict()};
  save_checkpoint(path, model, &state, epoch, metadata);
}

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


}  // namespace kiln
