// Loss layers: callables (input, target) -> loss, for Model::compile and the PyTorch-style loop.
#pragma once

#include <kiln/nn/functional.hpp>

#include <functional>
#include <memory>
#include <string>

namespace kiln::nn {

class Loss {
 public:
  virtual ~Loss() = default;
  virtual Tensor operator()(const Tensor& input, const Tensor& target) const = 0;
  virtual std::string name() const = 0;
};
using LossPtr = std::shared_ptr<Loss>;

class CrossEntropyLoss : public Loss {
 public:
  explicit CrossEntropyLoss(functional::CrossEntropyOptions options = {}) : options(std::move(options)) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const override {
    return functional::cross_entropy(input, target, options);
  }
  std::string name() const override { return "cross_entropy"; }
  functional::CrossEntropyOptions options;
};

class NLLLoss : public Loss {
 public:
  explicit NLLLoss(functional::NLLOptions options = {}) : options(std::move(options)) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const override {
    return functional::nll_loss(input, target, options);
  }
  std::string name() const override { return "nll"; }
  functional::NLLOptions options;
};

#define KILN_SIMPLE_LOSS(Class, fn, label)                                                  \
  class Class : public Loss {                                                               \
   public:                                                                                  \
    explicit Class(functional::Reduction reduction = functional::Reduction::Mean)           \
        : reduction(reduction) {}                                                           \
    Tensor operator()(const Tensor& input, const Tensor& target) const override {           \
      return functional::fn(input, target, reduction);                                      \
    }                                                                                       \
    std::string name() const override { return label; }                                     \
    functional::Reduction reduction;                                                        \
  };
KILN_SIMPLE_LOSS(MSELoss, mse_loss, "mse")
KILN_SIMPLE_LOSS(L1Loss, l1_loss, "l1")
#undef KILN_SIMPLE_LOSS

class SmoothL1Loss : public Loss {
 public:
  explicit SmoothL1Loss(functional::Reduction reduction = functional::Reduction::Mean, double beta = 1.0)
      : reduction(reduction), beta(beta) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const override {
    return functional::smooth_l1_loss(input, target, reduction, beta);
  }
  std::string name() const override { return "smooth_l1"; }
  functional::Reduction reduction;
  double beta;
};

class BCELoss : public Loss {
 public:
  explicit BCELoss(functional::Reduction reduction = functional::Reduction::Mean, Tensor weight = Tensor())
      : reduction(reduction), weight(std::move(weight)) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const override {
    return functional::binary_cross_entropy(input, target, weight, reduction);
  }
  std::string name() const override { return "bce"; }
  functional::Reduction reduction;
  Tensor weight;
};

class BCEWithLogitsLoss : public Loss {
 public:
  explicit BCEWithLogitsLoss(functional::Reduction reduction = functional::Reduction::Mean,
                             Tensor pos_weight = Tensor(), Tensor weight = Tensor())
      : reduction(reduction), pos_weight(std::move(pos_weight)), weight(std::move(weight)) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const override {
    return functional::binary_cross_entropy_with_logits(input, target, weight, pos_weight, reduction);
  }
  std::string name() const override { return "bce_with_logits"; }
  functional::Reduction reduction;
  Tensor pos_weight, weight;
};

}  // namespace kiln::nn
