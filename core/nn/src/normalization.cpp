// BatchNorm1d, BatchNorm2d, LayerNorm.
#include <kiln/autograd.hpp>
#include <kiln/nn/functional.hpp>
#include <kiln/nn/normalization.hpp>

#include <sstream>

#include "layer_config.hpp"

namespace kiln::nn {

namespace F = functional;

BatchNormImpl::BatchNormImpl(int64_t n, int d, BatchNormOptions o) : num_features(n), dims(d), options(o) {
  KILN_CHECK(n > 0, ValueError, "BatchNorm: num_features must be positive, got ", n);
  if (o.affine) {
    weight = register_parameter("weight", ones({n}));
    bias = register_parameter("bias", zeros({n}));
  }
  if (o.track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({n}));
    running_var = register_buffer("running_var", ones({n}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, {.dtype = DType::Int64}));
  }
}
Tensor BatchNormImpl::forward(const Tensor& x) {
  if (dims == 1) {
    KILN_CHECK((x.dim() == 2 || x.dim() == 3) && x.shape()[1] == num_features, ShapeError, "expected input [N, ",
               num_features, "] or [N, ", num_features, ", L], got shape ", x.shape());
  } else {
    KILN_CHECK(x.dim() == 4 && x.shape()[1] == num_features, ShapeError, "expected input [N, ", num_features,
               ", H, W], got shape ", x.shape());
  }
  bool use_batch = training_ || !options.track_running_stats;
  if (training_ && options.track_running_stats) {
    NoGradGuard g;
    num_batches_tracked.copy_(add(num_batches_tracked, 1.0));
  }
  return F::batch_norm(x, use_batch && training_ ? running_mean : (use_batch ? Tensor() : running_mean),
                       use_batch && training_ ? running_var : (use_batch ? Tensor() : running_var), weight, bias,
                       use_batch, options.momentum, options.eps);
}
Config BatchNormImpl::config() const {
  return {{"num_features", num_features}, {"eps", options.eps}, {"momentum", options.momentum},
          {"affine", options.affine}, {"track_running_stats", options.track_running_stats}};
}
std::string BatchNormImpl::extra_repr() const {
  std::ostringstream os;
  os << num_features << ", eps=" << options.eps << ", momentum=" << options.momentum
     << ", affine=" << (options.affine ? "true" : "false");
  return os.str();
}

LayerNormImpl::LayerNormImpl(Shape s, LayerNormOptions o) : normalized_shape(s), options(o) {
  if (o.elementwise_affine) {
    weight = register_parameter("weight", ones(s));
    if (o.bias) bias = register_parameter("bias", zeros(s));
  }
}
Tensor LayerNormImpl::forward(const Tensor& x) { return F::layer_norm(x, normalized_shape, weight, bias, options.eps); }
Config LayerNormImpl::config() const {
  return {{"normalized_shape", normalized_shape.vec()}, {"eps", options.eps},
          {"elementwise_affine", options.elementwise_affine}, {"bias", options.bias}};
}
std::string LayerNormImpl::extra_repr() const { return normalized_shape.str(); }

void register_normalization_layers() {
  for (int d : {1, 2}) {
    register_layer(d == 1 ? "BatchNorm1d" : "BatchNorm2d", 1, [d](const Config& c) -> ModulePtr {
      BatchNormOptions o{get(c, "eps", 1e-5), get(c, "momentum", 0.1), get(c, "affine", true),
                         get(c, "track_running_stats", true)};
      return std::make_shared<BatchNormImpl>(c.at("num_features").get<int64_t>(), d, o);
    });
  }
  register_layer("LayerNorm", 1, [](const Config& c) -> ModulePtr {
    LayerNormOptions o{get(c, "eps", 1e-5), get(c, "elementwise_affine", true), get(c, "bias", true)};
    return std::make_shared<LayerNormImpl>(Shape(c.at("normalized_shape").get<std::vector<int64_t>>()), o);
  });
}

}  // namespace kiln::nn
