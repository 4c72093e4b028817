// Convolution: Conv2d.
#pragma once

#include <kiln/nn/common.hpp>

namespace kiln::nn {

struct Conv2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  std::string padding_preset;  // "same" (keep H, W at stride 1, as PyTorch) or "valid" (0)
  Size2 dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};
class Conv2dImpl : public Module {
 public:
  Conv2dImpl(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel, Conv2dOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2d"; }
  Config config() const override;
  std::string extra_repr() const override;
  void reset_parameters();
  int64_t in_channels, out_channels;
  std::array<int64_t, 2> kernel;
  Conv2dOptions options;
  Tensor weight, bias;
};
KILN_DECLARE_HOLDER(Conv2d)
  Conv2d(int64_t in, int64_t out, int64_t k, Conv2dOptions o = {})
      : ModuleHolder(std::make_shared<Conv2dImpl>(in, out, std::array<int64_t, 2>{k, k}, o)) {}
  Conv2d(int64_t in, int64_t out, std::array<int64_t, 2> k, Conv2dOptions o = {})
      : ModuleHolder(std::make_shared<Conv2dImpl>(in, out, k, o)) {}
};

}  // namespace kiln::nn
