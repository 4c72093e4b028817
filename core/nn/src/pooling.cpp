// MaxPool2d, AvgPool2d, AdaptiveAvgPool2d.
#include <kiln/nn/functional.hpp>
#include <kiln/nn/pooling.hpp>

#include "layer_config.hpp"

namespace kiln::nn {

namespace F = functional;

namespace {
PoolOptions pool_options(const Config& c) {
  PoolOptions o;
  o.stride = arr2(c, "stride", {0, 0});
  o.padding = arr2(c, "padding", {0, 0});
  o.dilation = arr2(c, "dilation", {1, 1});
  o.ceil_mode = get(c, "ceil_mode", false);
  o.count_include_pad = get(c, "count_include_pad", true);
  return o;
}
}  // namespace

namespace {
Pool2dParams pool_params(std::array<int64_t, 2> k, const PoolOptions& o) {
  Pool2dParams p;
  p.kernel = k;
  p.stride = {o.stride[0] ? o.stride[0] : k[0], o.stride[1] ? o.stride[1] : k[1]};
  p.padding = o.padding.arr();
  p.dilation = o.dilation.arr();
  p.ceil_mode = o.ceil_mode;
  p.count_include_pad = o.count_include_pad;
  return p;
}
Config pool_config(const Pool2dParams& p) {
  return {{"kernel_size", p.kernel}, {"stride", p.stride},       {"padding", p.padding},
          {"dilation", p.dilation},  {"ceil_mode", p.ceil_mode}, {"count_include_pad", p.count_include_pad}};
}
}  // namespace
MaxPool2dImpl::MaxPool2dImpl(std::array<int64_t, 2> k, PoolOptions o) : params(pool_params(k, o)) {}
Tensor MaxPool2dImpl::forward(const Tensor& x) { return max_pool2d(x, params); }
Config MaxPool2dImpl::config() const { return pool_config(params); }
std::string MaxPool2dImpl::extra_repr() const {
  return "kernel_size=" + pair_str(params.kernel) + ", stride=" + pair_str(params.stride) +
         ", padding=" + pair_str(params.padding);
}
AvgPool2dImpl::AvgPool2dImpl(std::array<int64_t, 2> k, PoolOptions o) : params(pool_params(k, o)) {}
Tensor AvgPool2dImpl::forward(const Tensor& x) { return avg_pool2d(x, params); }
Config AvgPool2dImpl::config() const { return pool_config(params); }
std::string AvgPool2dImpl::extra_repr() const {
  return "kernel_size=" + pair_str(params.kernel) + ", stride=" + pair_str(params.stride) +
         ", padding=" + pair_str(params.padding);
}
std::string AdaptiveAvgPool2dImpl::extra_repr() const { return "output_size=" + pair_str(output_size); }

void register_pooling_layers() {
  register_layer("MaxPool2d", 1, [](const Config& c) -> ModulePtr {
    return std::make_shared<MaxPool2dImpl>(arr2(c, "kernel_size", {2, 2}), pool_options(c));
  });
  register_layer("AvgPool2d", 1, [](const Config& c) -> ModulePtr {
    return std::make_shared<AvgPool2dImpl>(arr2(c, "kernel_size", {2, 2}), pool_options(c));
  });
  register_layer("AdaptiveAvgPool2d", 1, [](const Config& c) -> ModulePtr {
    return std::make_shared<AdaptiveAvgPool2dImpl>(arr2(c, "output_size", {1, 1}));
  });
}

}  // namespace kiln::nn
