// Activations (their forward passes are inline in the header).
#include <kiln/nn/activation.hpp>
#include <kiln/nn/functional.hpp>

#include "layer_config.hpp"

namespace kiln::nn {

namespace F = functional;



void register_activation_layers() {
  register_layer("ReLU", 1, [](const Config&) -> ModulePtr { return std::make_shared<ReLUImpl>(); });
  register_layer("GELU", 1, [](const Config&) -> ModulePtr { return std::make_shared<GELUImpl>(); });
  register_layer("SiLU", 1, [](const Config&) -> ModulePtr { return std::make_shared<SiLUImpl>(); });
  register_layer("Sigmoid", 1, [](const Config&) -> ModulePtr { return std::make_shared<SigmoidImpl>(); });
  register_layer("Tanh", 1, [](const Config&) -> ModulePtr { return std::make_shared<TanhImpl>(); });
  register_layer("LeakyReLU", 1, [](const Config& c) -> ModulePtr {
    return std::make_shared<LeakyReLUImpl>(get(c, "negative_slope", 0.01));
  });
  register_layer("Softmax", 1, [](const Config& c) -> ModulePtr {
    return std::make_shared<SoftmaxImpl>(get<int64_t>(c, "axis", -1), false);
  });
  register_layer("LogSoftmax", 1, [](const Config& c) -> ModulePtr {
    return std::make_shared<SoftmaxImpl>(get<int64_t>(c, "axis", -1), true);
  });
}

}  // namespace kiln::nn
