// Conv2d.
#include <kiln/nn/conv.hpp>
#include <kiln/nn/functional.hpp>
#include <kiln/nn/init.hpp>

#include <cmath>

#include "layer_config.hpp"

namespace kiln::nn {

namespace F = functional;

Conv2dImpl::Conv2dImpl(int64_t in, int64_t out, std::array<int64_t, 2> k, Conv2dOptions o)
    : in_channels(in), out_channels(out), kernel(k), options(o) {
  KILN_CHECK(in > 0 && out > 0 && k[0] > 0 && k[1] > 0, ValueError, "Conv2d: channels and kernel must be positive");
  KILN_CHECK(o.groups >= 1 && in % o.groups == 0 && out % o.groups == 0, ValueError, "Conv2d: in_channels ", in,
             " and out_channels ", out, " must be divisible by groups ", o.groups);
  KILN_CHECK(o.padding_preset.empty() || o.padding_preset == "same" || o.padding_preset == "valid", ValueError,
             "Conv2d: padding_preset must be \"same\" or \"valid\", got \"", o.padding_preset, "\"");
  KILN_CHECK(o.padding_preset != "same" || (o.stride[0] == 1 && o.stride[1] == 1), ValueError,
             "Conv2d: padding \"same\" needs stride 1 (as in PyTorch)");
  weight = register_parameter("weight", empty({out, in / o.groups, k[0], k[1]}));
  if (o.bias) bias = register_parameter("bias", empty({out}));
  reset_parameters();
}
void Conv2dImpl::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    auto [fan_in, fan_out] = init::fans(weight);
    double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    init::uniform_(bias, -bound, bound);
  }
}
Tensor Conv2dImpl::forward(const Tensor& x) {
  KILN_CHECK((x.dim() == 4 || x.dim() == 3) && x.shape()[x.dim() - 3] == in_channels, ShapeError,
             "expected input [N, ", in_channels, ", H, W], got shape ", x.shape());
  Conv2dParams p{options.stride.arr(), options.padding.arr(), options.dilation.arr(), options.groups};
  if (options.padding_preset == "valid") p.padding = {0, 0};
  if (options.padding_preset == "same") {
    // total padding d*(k-1) per axis; PyTorch puts the odd extra on the right/bottom
    int64_t th = options.dilation[0] * (kernel[0] - 1), tw = options.dilation[1] * (kernel[1] - 1);
    if (th % 2 == 0 && tw % 2 == 0) {
      p.padding = {th / 2, tw / 2};
    } else {
      p.padding = {0, 0};
      Tensor padded = F::pad2d(x, tw / 2, tw - tw / 2, th / 2, th - th / 2);
      return conv2d(padded, weight, bias, p);
    }
  }
  return conv2d(x, weight, bias, p);
}
Config Conv2dImpl::config() const {
  return {{"in_channels", in_channels}, {"out_channels", out_channels}, {"kernel_size", kernel},
          {"stride", options.stride},   {"padding", options.padding},   {"padding_preset", options.padding_preset},
          {"dilation", options.dilation}, {"groups", options.groups},   {"bias", options.bias}};
}
std::string Conv2dImpl::extra_repr() const {
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                  ", kernel_size=" + pair_str(kernel) + ", stride=" + pair_str(options.stride);
  if (!options.padding_preset.empty()) s += ", padding=" + options.padding_preset;
  else if (options.padding[0] || options.padding[1]) s += ", padding=" + pair_str(options.padding);
  if (options.dilation[0] != 1 || options.dilation[1] != 1) s += ", dilation=" + pair_str(options.dilation);
  if (options.groups != 1) s += ", groups=" + std::to_string(options.groups);
  if (!options.bias) s += ", bias=false";
  return s;
}

void register_conv_layers() {
  register_layer("Conv2d", 1, [](const Config& c) -> ModulePtr {
    Conv2dOptions o;
    o.stride = arr2(c, "stride", {1, 1});
    o.padding = arr2(c, "padding", {0, 0});
    o.padding_preset = get<std::string>(c, "padding_preset", "");
    o.dilation = arr2(c, "dilation", {1, 1});
    o.groups = get<int64_t>(c, "groups", 1);
    o.bias = get(c, "bias", true);
    return std::make_shared<Conv2dImpl>(c.at("in_channels").get<int64_t>(), c.at("out_channels").get<int64_t>(),
                                        arr2(c, "kernel_size", {1, 1}), o);
  });
}

}  // namespace kiln::nn
