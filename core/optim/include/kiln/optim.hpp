// Optimizers, learning-rate schedulers and gradient clipping (torch.optim's semantics).
#pragma once

#include <kiln/tensor.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kiln::optim {

// A group of parameters sharing hyper-parameters. options holds the optimizer's named settings
// ("momentum", "weight_decay", ...); lr is separate because schedulers change it.
struct ParamGroup {
  std::vector<Tensor> params;
  double lr = 0.0;
  std::map<std::string, double> options;
  double initial_lr = 0.0;  // set on construction, used by schedulers
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Updates parameters in place from their .grad(); parameters without a gradient are skipped.
  virtual void step() = 0;
  virtual std::string name() const = 0;
  // Clears gradients (set to undefined, as PyTorch's set_to_none=True).
  void zero_grad();
  void add_param_group(ParamGroup group);
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  double lr() const { return groups_.empty() ? 0.0 : groups_.front().lr; }
  // Whether the optimizer has the named setting ("momentum", "beta1", ...).
  bool has_option(const std::string& key) const { return defaults_.count(key) > 0; }
  void set_lr(double lr);

  // Per-parameter state tensors ("momentum_buffer", "exp_avg", ...) keyed "<group>.<index>.<name>",
  // plus scalar state (step counts) — saved in checkpoints for exact resumption.
  std::map<std::string, Tensor> state_dict() const;
  void load_state_dict(const std::map<std::string, Tensor>& state);

 protected:
  Optimizer(std::vector<ParamGroup> groups, double lr, std::map<std::string, double> defaults);
  double option(const ParamGroup& g, const std::string& key) const;
  // State slot for parameter p of group gi (created zero-filled like p on first use).
  Tensor& state(size_t gi, size_t pi, const std::string& name, const Tensor& like);
  std::map<std::string, Tensor> state_;
  std::map<std::string, double> defaults_;

 private:
  std::vector<ParamGroup> groups_;
};
using OptimizerPtr = std::shared_ptr<Optimizer>;

struct SGDOptions {
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, double lr, SGDOptions options = {});
  SGD(std::vector<ParamGroup> groups, double lr, SGDOptions options = {});
  void step() override;
  std::string name() const override { return "SGD"; }

 private:
  // One-element tensors holding the momentum and -lr on the parameters' device, the scalar
  // operands of the fused updates (Note [In-place updates] in optim.cpp); refilled on change.
  struct Scalar {
    Tensor tensor;
    double value = 0;
    Scalar() = default;
    // A copied optimizer (Model::compile takes one by value) makes its own tensors: sharing one
    // would let either copy's refill change the other's step.
    Scalar(const Scalar&) {}
    Scalar& operator=(const Scalar&) {
      tensor = Tensor();
      return *this;
    }
    Scalar(Scalar&&) = default;
    Scalar& operator=(Scalar&&) = default;
  };
  Scalar scalars_[2];
  const Tensor& scalar(int slot, double value, const Tensor& like);
};

struct AdamOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
};
class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, double lr = 1e-3, AdamOptions options = {});
  Adam(std::vector<ParamGroup> groups, double lr = 1e-3, AdamOptions options = {});
  void step() override;
  std::string name() const override { return decoupled_ ? "AdamW" : "Adam"; }

 protected:
  bool decoupled_ = false;
};
// Adam with decoupled weight decay (default 0.01, as PyTorch).
class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, double lr = 1e-3, AdamOptions options = {.weight_decay = 0.01});
  AdamW(std::vector<ParamGroup> groups, double lr = 1e-3, AdamOptions options = {.weight_decay = 0.01});
};

struct RMSpropOptions {
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
};
class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<Tensor> params, double lr = 1e-2, RMSpropOptions options = {});
  RMSprop(std::vector<ParamGroup> groups, double lr = 1e-2, RMSpropOptions options = {});
  void step() override;
  std::string name() const override { return "RMSprop"; }
};

struct AdagradOptions {
  double lr_decay = 0.0;
  double weight_decay = 0.0;
  double initial_accumulator_value = 0.0;
  double eps = 1e-10;
};
class Adagrad : public Optimizer {
 public:
  Adagrad(std::vector<Tensor> params, double lr = 1e-2, AdagradOptions options = {});
  Adagrad(std::vector<ParamGroup> groups, double lr = 1e-2, AdagradOptions options = {});
  void step() override;
  std::string name() const override { return "Adagrad"; }
};

// Scales all gradients so their joint norm is at most max_norm; returns the norm before clipping.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

// ---- learning-rate schedulers: call step() once per epoch (OneCycleLR: once per batch) ----
class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& optimizer);
  virtual ~LRScheduler() = default;
  virtual void step();
  // ReduceLROnPlateau uses the metric; the others ignore it.
  virtual void step(double metric) {
    (void)metric;
    step();
  }
  int64_t last_epoch() const { return epoch_; }
  std::vector<double> get_last_lr() const;

 protected:
  // The lr of group g at epoch_ (closed form from initial_lr).
  virtual double lr_at(size_t g) const = 0;
  Optimizer& opt_;
  int64_t epoch_ = 0;
  std::vector<double> base_lrs_;
};

class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& o, int64_t step_size, double gamma = 0.1);
  double lr_at(size_t g) const override;
  int64_t step_size;
  double gamma;
};
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& o, std::vector<int64_t> milestones, double gamma = 0.1);
  double lr_at(size_t g) const override;
  std::vector<int64_t> milestones;
  double gamma;
};
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& o, double gamma);
  double lr_at(size_t g) const override;
  double gamma;
};
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& o, int64_t t_max, double eta_min = 0.0);
  double lr_at(size_t g) const override;
  int64_t t_max;
  double eta_min;
};
// Linear warm-up from start_factor * lr to lr over total_iters steps.
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& o, double start_factor = 1.0 / 3.0, double end_factor = 1.0, int64_t total_iters = 5);
  double lr_at(size_t g) const override;
  double start_factor, end_factor;
  int64_t total_iters;
};
// One-cycle policy (cosine annealing), stepped per batch. The lr rises from max_lr / div_factor
// to max_lr over the first pct_start of the steps, then falls to max_lr / div_factor /
// final_div_factor. With cycle_momentum (PyTorch's default) the momentum (SGD, RMSprop) or beta1
// (Adam, AdamW) moves the opposite way, from max_momentum down to base_momentum and back; an
// optimizer with neither is a ValueError unless cycle_momentum is false.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& o, double max_lr, int64_t total_steps, double pct_start = 0.3, double div_factor = 25.0,
             double final_div_factor = 1e4, bool cycle_momentum = true, double base_momentum = 0.85,
             double max_momentum = 0.95);
  void step() override;
  double lr_at(size_t g) const override;
  double max_lr;
  int64_t total_steps;
  double pct_start, div_factor, final_div_factor;
  bool cycle_momentum;
  double base_momentum, max_momentum;

 private:
  // The schedule's value now: from `start` to `peak` in the first phase, then to `end`.
  double anneal(double start, double peak, double end) const;
  void set_momentum();
  std::string momentum_key_;  // "momentum", "beta1", or "" when not cycling
};
class ReduceLROnPlateau : public LRScheduler {
 public:
  ReduceLROnPlateau(Optimizer& o, const std::string& mode = "min", double factor = 0.1, int64_t patience = 10,
                    double threshold = 1e-4, double min_lr = 0.0);
  void step(double metric) override;
  void step() override;
  double lr_at(size_t g) const override;
  std::string mode;
  double factor;
  int64_t patience;
  double threshold, min_lr;

 private:
  double best_;
  int64_t bad_epochs_ = 0;
};

}  // namespace kiln::optim
