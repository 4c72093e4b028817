// Linear, and the shape-only layers Identity and Flatten (as in LibTorch's nn/modules/linear.h).
#pragma once

#include <kiln/nn/common.hpp>

namespace kiln::nn {

class IdentityImpl : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Identity"; }
};
KILN_DECLARE_HOLDER(Identity)
  Identity() : ModuleHolder(std::make_shared<IdentityImpl>()) {}
};

// ---------------------------------------------------------------- linear and convolution
struct LinearOptions {
  bool bias = true;
};
class LinearImpl : public Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features, LinearOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  Config config() const override;
  std::string extra_repr() const override;
  void reset_parameters();
  int64_t in_features, out_features;
  LinearOptions options;
  Tensor weight, bias;
};
KILN_DECLARE_HOLDER(Linear)
  Linear(int64_t in, int64_t out, LinearOptions o = {}) : ModuleHolder(std::make_shared<LinearImpl>(in, out, o)) {}
};

class FlattenImpl : public Module {
 public:
  FlattenImpl(int64_t start_axis = 1, int64_t end_axis = -1) : start_axis(start_axis), end_axis(end_axis) {}
  Tensor forward(const Tensor& x) override { return x.flatten(start_axis, end_axis); }
  std::string type_name() const override { return "Flatten"; }
  Config config() const override { return {{"start_axis", start_axis}, {"end_axis", end_axis}}; }
  int64_t start_axis, end_axis;
};
KILN_DECLARE_HOLDER(Flatten)
  Flatten(int64_t s = 1, int64_t e = -1) : ModuleHolder(std::make_shared<FlattenImpl>(s, e)) {}
};

}  // namespace kiln::nn
