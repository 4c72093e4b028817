// Activations: ReLU, GELU, SiLU, Sigmoid, Tanh, LeakyReLU, Softmax, LogSoftmax.
#pragma once

#include <kiln/nn/common.hpp>

namespace kiln::nn {

// Activations and other parameterless layers.
#define KILN_SIMPLE_LAYER(Name, expr)                                        \
  class Name##Impl : public Module {                                         \
   public:                                                                   \
    Tensor forward(const Tensor& x) override { return expr; }                \
    std::string type_name() const override { return #Name; }                 \
  };                                                                         \
  KILN_DECLARE_HOLDER(Name)                                                  \
    Name() : ModuleHolder(std::make_shared<Name##Impl>()) {}                 \
  };
KILN_SIMPLE_LAYER(ReLU, relu(x))
KILN_SIMPLE_LAYER(GELU, gelu(x))
KILN_SIMPLE_LAYER(SiLU, silu(x))
KILN_SIMPLE_LAYER(Sigmoid, sigmoid(x))
KILN_SIMPLE_LAYER(Tanh, tanh(x))
#undef KILN_SIMPLE_LAYER

class LeakyReLUImpl : public Module {
 public:
  explicit LeakyReLUImpl(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  Tensor forward(const Tensor& x) override { return leaky_relu(x, negative_slope); }
  std::string type_name() const override { return "LeakyReLU"; }
  Config config() const override { return {{"negative_slope", negative_slope}}; }
  double negative_slope;
};
KILN_DECLARE_HOLDER(LeakyReLU)
  LeakyReLU(double s = 0.01) : ModuleHolder(std::make_shared<LeakyReLUImpl>(s)) {}
};

class SoftmaxImpl : public Module {
 public:
  explicit SoftmaxImpl(int64_t axis = -1, bool log = false) : axis(axis), log(log) {}
  Tensor forward(const Tensor& x) override { return log ? log_softmax(x, axis) : softmax(x, axis); }
  std::string type_name() const override { return log ? "LogSoftmax" : "Softmax"; }
  Config config() const override { return {{"axis", axis}}; }
  int64_t axis;
  bool log;
};
class Softmax : public ModuleHolder<SoftmaxImpl> {
 public:
  using ModuleHolder::ModuleHolder;
  Softmax(int64_t axis = -1) : ModuleHolder(std::make_shared<SoftmaxImpl>(axis, false)) {}
};
class LogSoftmax : public ModuleHolder<SoftmaxImpl> {
 public:
  using ModuleHolder::ModuleHolder;
  LogSoftmax(int64_t axis = -1) : ModuleHolder(std::make_shared<SoftmaxImpl>(axis, true)) {}
};

}  // namespace kiln::nn
