// Linear, Identity, Flatten.
#include <kiln/nn/functional.hpp>
#include <kiln/nn/init.hpp>
#include <kiln/nn/linear.hpp>

#include <cmath>

#include "layer_config.hpp"

namespace kiln::nn {

namespace F = functional;

LinearImpl::LinearImpl(int64_t in, int64_t out, LinearOptions o) : in_features(in), out_features(out), options(o) {
  KILN_CHECK(in > 0 && out > 0, ValueError, "Linear: in_features and out_features must be positive, got ", in, " and ", out);
  weight = register_parameter("weight", empty({out, in}));
  if (o.bias) bias = register_parameter("bias", empty({out}));
  reset_parameters();
}
void LinearImpl::reset_parameters() {
  // PyTorch: kaiming_uniform_(a=sqrt(5)) for the weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    init::uniform_(bias, -bound, bound);
  }
}
Tensor LinearImpl::forward(const Tensor& x) {
  KILN_CHECK(x.dim() >= 1 && x.shape()[x.dim() - 1] == in_features, ShapeError, "expected input [..., ", in_features,
             "], got shape ", x.shape());
  return F::linear(x, weight, bias);
}
Config LinearImpl::config() const {
  return {{"in_features", in_features}, {"out_features", out_features}, {"bias", options.bias}};
}
std::string LinearImpl::extra_repr() const {
  return "in_features=" + std::to_string(in_features) + ", out_features=" + std::to_string(out_features) +
         ", bias=" + (options.bias ? "true" : "false");
}

void register_linear_layers() {
  register_layer("Linear", 1, [](const Config& c) -> ModulePtr {
    return std::make_shared<LinearImpl>(c.at("in_features").get<int64_t>(), c.at("out_features").get<int64_t>(),
                                        LinearOptions{get(c, "bias", true)});
  });
  register_layer("Flatten", 1, [](const Config& c) -> ModulePtr {
    return std::make_shared<FlattenImpl>(get<int64_t>(c, "start_axis", 1), get<int64_t>(c, "end_axis", -1));
  });
  register_layer("Identity", 1, [](const Config&) -> ModulePtr { return std::make_shared<IdentityImpl>(); });
}

}  // namespace kiln::nn
