// Pooling: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d.
#pragma once

#include <kiln/nn/common.hpp>

namespace kiln::nn {

struct PoolOptions {
  Size2 stride = 0;  // 0: the kernel size
  Size2 padding = 0;
  Size2 dilation = 1;  // max pool only
  bool ceil_mode = false;
  bool count_include_pad = true;  // avg pool only
};
class MaxPool2dImpl : public Module {
 public:
  MaxPool2dImpl(std::array<int64_t, 2> kernel, PoolOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "MaxPool2d"; }
  Config config() const override;
  std::string extra_repr() const override;
  Pool2dParams params;
};
KILN_DECLARE_HOLDER(MaxPool2d)
  MaxPool2d(int64_t k, PoolOptions o = {}) : ModuleHolder(std::make_shared<MaxPool2dImpl>(std::array<int64_t, 2>{k, k}, o)) {}
  MaxPool2d(std::array<int64_t, 2> k, PoolOptions o = {}) : ModuleHolder(std::make_shared<MaxPool2dImpl>(k, o)) {}
};
class AvgPool2dImpl : public Module {
 public:
  AvgPool2dImpl(std::array<int64_t, 2> kernel, PoolOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "AvgPool2d"; }
  Config config() const override;
  std::string extra_repr() const override;
  Pool2dParams params;
};
KILN_DECLARE_HOLDER(AvgPool2d)
  AvgPool2d(int64_t k, PoolOptions o = {}) : ModuleHolder(std::make_shared<AvgPool2dImpl>(std::array<int64_t, 2>{k, k}, o)) {}
  AvgPool2d(std::array<int64_t, 2> k, PoolOptions o = {}) : ModuleHolder(std::make_shared<AvgPool2dImpl>(k, o)) {}
};
class AdaptiveAvgPool2dImpl : public Module {
 public:
  explicit AdaptiveAvgPool2dImpl(std::array<int64_t, 2> output_size) : output_size(output_size) {}
  Tensor forward(const Tensor& x) override { return adaptive_avg_pool2d(x, output_size); }
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  Config config() const override { return {{"output_size", output_size}}; }
  std::string extra_repr() const override;
  std::array<int64_t, 2> output_size;
};
KILN_DECLARE_HOLDER(AdaptiveAvgPool2d)
  AdaptiveAvgPool2d(int64_t s) : ModuleHolder(std::make_shared<AdaptiveAvgPool2dImpl>(std::array<int64_t, 2>{s, s})) {}
  AdaptiveAvgPool2d(std::array<int64_t, 2> s) : ModuleHolder(std::make_shared<AdaptiveAvgPool2dImpl>(s)) {}
};

}  // namespace kiln::nn
