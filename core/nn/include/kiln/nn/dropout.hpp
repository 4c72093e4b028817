// Dropout.
#pragma once

#include <kiln/nn/common.hpp>

namespace kiln::nn {

class DropoutImpl : public Module {
 public:
  explicit DropoutImpl(double p = 0.5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  Config config() const override { return {{"p", p}}; }
  std::string extra_repr() const override;
  double p;
};
KILN_DECLARE_HOLDER(Dropout)
  Dropout(double p = 0.5) : ModuleHolder(std::make_shared<DropoutImpl>(p)) {}
};

}  // namespace kiln::nn
