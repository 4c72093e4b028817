// The built-in layer types in the layer registry: each family registers its own in its file;
// this calls them all, once.
#include <kiln/nn/layers.hpp>

#include <mutex>

#include "layer_config.hpp"

namespace kiln::nn {

void register_builtin_layers() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_container_layers();
    register_linear_layers();
    register_conv_layers();
    register_pooling_layers();
    register_normalization_layers();
    register_embedding_layers();
    register_dropout_layers();
    register_activation_layers();
    register_recurrent_layers();
    register_attention_layers();
  });
}

namespace {
// Loading libkiln_nn registers them, so a program's own registrations see the built-in names.
[[maybe_unused]] const bool kBuiltinLayersRegistered = (register_builtin_layers(), true);
}  // namespace

}  // namespace kiln::nn
