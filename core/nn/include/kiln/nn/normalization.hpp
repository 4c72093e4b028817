// Normalization: BatchNorm1d, BatchNorm2d, LayerNorm.
#pragma once

#include <kiln/nn/common.hpp>

namespace kiln::nn {

struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = true;
  bool track_running_stats = true;
};
class BatchNormImpl : public Module {
 public:
  BatchNormImpl(int64_t num_features, int dims, BatchNormOptions options);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return dims == 1 ? "BatchNorm1d" : "BatchNorm2d"; }
  Config config() const override;
  std::string extra_repr() const override;
  int64_t num_features;
  int dims;
  BatchNormOptions options;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};
class BatchNorm1d : public ModuleHolder<BatchNormImpl> {
 public:
  using ModuleHolder::ModuleHolder;
  BatchNorm1d(int64_t n, BatchNormOptions o = {}) : ModuleHolder(std::make_shared<BatchNormImpl>(n, 1, o)) {}
};
class BatchNorm2d : public ModuleHolder<BatchNormImpl> {
 public:
  using ModuleHolder::ModuleHolder;
  BatchNorm2d(int64_t n, BatchNormOptions o = {}) : ModuleHolder(std::make_shared<BatchNormImpl>(n, 2, o)) {}
};

struct LayerNormOptions {
  double eps = 1e-5;
  bool elementwise_affine = true;
  bool bias = true;
};
class LayerNormImpl : public Module {
 public:
  LayerNormImpl(Shape normalized_shape, LayerNormOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LayerNorm"; }
  Config config() const override;
  std::string extra_repr() const override;
  Shape normalized_shape;
  LayerNormOptions options;
  Tensor weight, bias;
};
KILN_DECLARE_HOLDER(LayerNorm)
  LayerNorm(int64_t n, LayerNormOptions o = {}) : ModuleHolder(std::make_shared<LayerNormImpl>(Shape{n}, o)) {}
  LayerNorm(Shape s, LayerNormOptions o = {}) : ModuleHolder(std::make_shared<LayerNormImpl>(s, o)) {}
};

}  // namespace kiln::nn
