// kiln::Model: the Keras-style front. Wrap a module, compile it with an optimizer, a loss and
// metrics, then fit / evaluate / predict over data::BatchSource (TensorBatches, DataLoader):
//
//   nn::Sequential net{nn::Linear(2, 16), nn::ReLU(), nn::Linear(16, 2)};
//   Model model(net);
//   model.compile(optim::SGD(net->parameters(), 0.05, {.momentum = 0.9}), nn::CrossEntropyLoss(),
//                 {metrics::Accuracy()});
//   History history = model.fit(train, {.epochs = 5, .validation = &test});
//
// The module stays an ordinary nn::Module: a PyTorch-style loop can drive the same network
// before, after or instead of fit (docs/training.md shows both styles).
#pragma once

#include <kiln/callbacks.hpp>
#include <kiln/data.hpp>
#include <kiln/metrics.hpp>
#include <kiln/nn/loss.hpp>
#include <kiln/nn/module.hpp>
#include <kiln/optim.hpp>

#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace kiln {

// Builds an optimizer over the parameters it is given (Model::compile passes the module's).
using OptimizerFactory = std::function<optim::OptimizerPtr(std::vector<Tensor> params)>;

// What compile accepts as the optimizer:
//  - an optimizer by value, already built on the module's parameters:
//      optim::SGD(net->parameters(), 0.05, {.momentum = 0.9})
//  - a shared pointer to one (keep it to drive LR schedulers yourself);
//  - a factory called with the module's parameters:
//      [](auto params) { return std::make_shared<optim::Adam>(params, 1e-3); }
class OptimizerSpec {
 public:
  template <typename O>
    requires std::derived_from<std::decay_t<O>, optim::Optimizer>
  OptimizerSpec(O&& optimizer)  // NOLINT
      : optimizer_(std::make_shared<std::decay_t<O>>(std::forward<O>(optimizer))) {}
  template <typename O>
    requires std::derived_from<O, optim::Optimizer>
  OptimizerSpec(std::shared_ptr<O> optimizer) : optimizer_(std::move(optimizer)) {}  // NOLINT
  template <typename F>
    requires(!std::derived_from<std::decay_t<F>, optim::Optimizer> && std::invocable<F&, std::vector<Tensor>>)
  OptimizerSpec(F&& factory) : factory_(std::forward<F>(factory)) {}  // NOLINT
  // The optimizer for module; throws ValueError when it has no parameters to optimize.
  optim::OptimizerPtr build(nn::Module& module) const;

 private:
  optim::OptimizerPtr optimizer_;
  OptimizerFactory factory_;
};

// What compile accepts as the loss: an nn::Loss by value or shared pointer, a name
// ("cross_entropy", "nll", "mse", "l1", "smooth_l1", "bce", "bce_with_logits"), or any callable
// (prediction, target) -> scalar Tensor.
class LossSpec {
 public:
  template <typename L>
    requires std::derived_from<std::decay_t<L>, nn::Loss>
  LossSpec(L&& loss) : loss_(std::make_shared<std::decay_t<L>>(std::forward<L>(loss))) {}  // NOLINT
  template <typename L>
    requires std::derived_from<L, nn::Loss>
  LossSpec(std::shared_ptr<L> loss) : loss_(std::move(loss)) {}  // NOLINT
  LossSpec(const std::string& name);  // NOLINT
  LossSpec(const char* name) : LossSpec(std::string(name)) {}  // NOLINT
  template <typename F>
    requires(!std::derived_from<std::decay_t<F>, nn::Loss> && !std::convertible_to<F, std::string> &&
             std::invocable<F&, const Tensor&, const Tensor&>)
  LossSpec(F&& fn) : LossSpec(std::function<Tensor(const Tensor&, const Tensor&)>(std::forward<F>(fn)), 0) {}  // NOLINT
  const nn::LossPtr& ptr() const { return loss_; }

 private:
  LossSpec(std::function<Tensor(const Tensor&, const Tensor&)> fn, int);
  nn::LossPtr loss_;
};

struct FitOptions {
  int epochs = 1;                          // train until this epoch (exclusive, counted from 0)
  data::BatchSource* validation = nullptr;  // evaluated after every epoch: val_loss, val_<metric>
  std::vector<callbacks::CallbackPtr> callbacks;
  int verbose = 1;                         // 0 silent, 1 progress bar, 2 one line per epoch
  int64_t initial_epoch = 0;               // resume: the first epoch to run
};

// What fit returns: one value per epoch run under each log key ("loss", metric names, "val_loss",
// "val_<metric>", "lr", and whatever callbacks added), and the epochs (0-based) they belong to.
struct History {
  std::map<std::string, std::vector<double>> history;
  std::vector<int> epochs;
  // history.at(key), with a ValueError naming the known keys when key is missing.
  const std::vector<double>& operator[](const std::string& key) const;
  bool contains(const std::string& key) const { return history.count(key) != 0; }
};

class Model {
 public:
  // Any layer handle converts: Model model(net) with net an nn::Sequential, nn::Linear, ...
  explicit Model(nn::ModulePtr module);
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  Model(Model&&) = default;
  Model& operator=(Model&&) = default;

  // Sets what fit and evaluate use. Throws ValueError for an optimizer without parameters or two
  // metrics with one name. May be called again (e.g. to change the optimizer between fits).
  void compile(OptimizerSpec optimizer, LossSpec loss, std::vector<metrics::MetricSpec> metrics = {});
  bool compiled() const { return optimizer_ != nullptr; }

  // Trains for options.epochs epochs over train (see FitOptions and callbacks.hpp for the order of
  // events). Per batch: train mode, forward, loss, zero_grad, backward, step. After each epoch:
  // validation in eval mode without gradients. Stops early when a callback sets stop_training.
  // Batches are moved to the module's device when they are elsewhere.
  History fit(data::BatchSource& train, const FitOptions& options = {});
  // Loss and metrics over one pass of data, in eval mode without gradients; restores the modules'
  // train/eval state afterwards. verbose 1 prints a progress bar.
  Logs evaluate(data::BatchSource& data, int verbose = 0);
  // The outputs over one pass of data (targets ignored), concatenated along axis 0.
  Tensor predict(data::BatchSource& data);
  Tensor predict(const Tensor& x, int64_t batch_size = 256);
  // One optimization step on one batch; returns that batch's loss and metrics.
  Logs train_on_batch(const Tensor& x, const Tensor& y);
  Logs test_on_batch(const Tensor& x, const Tensor& y);
  // Writes the module to a .kiln file (kiln::save; see serialize.hpp for errors).
  void save(const std::string& path) const;
  // Runs the module (in its current mode, recording gradients as usual).
  Tensor operator()(const Tensor& x) { return (*module_)(x); }

  // A Keras-style table: each layer's name and type, output shape for one sample of input_shape
  // (given without the batch axis; empty: shapes are not computed and show as "?") and parameter
  // count, then totals. Runs one forward pass in eval mode without gradients, with a zero input of
  // input_dtype (use Int64 for an Embedding first layer). Prints the table to stdout when print.
  std::string summary(const Shape& input_shape = {}, bool print = true, DType input_dtype = DType::Float32) const;

  nn::Module& module() { return *module_; }
  const nn::Module& module() const { return *module_; }
  const nn::ModulePtr& module_ptr() const { return module_; }
  // Throw ValueError before compile.
  optim::Optimizer& optimizer() const;
  const optim::OptimizerPtr& optimizer_ptr() const { return optimizer_; }
  nn::Loss& loss() const;
  const std::vector<metrics::MetricPtr>& metrics() const { return metrics_; }
  // "loss" then each metric's name: the keys of evaluate's logs.
  std::vector<std::string> metrics_names() const;
  // The History of the last fit.
  const History& history() const { return history_; }

  // Set by a callback to end fit after the current batch.
  bool stop_training = false;

 private:
  void require_compiled(const char* what) const;
  // Runs one batch; returns the mean loss and the number of samples it had.
  std::pair<double, int64_t> step(const data::Batch& batch, bool train);
  Logs current_logs(double loss) const;
  void reset_metrics();
  Tensor to_model_device(const Tensor& t) const;
  void run_epoch(data::BatchSource& train, int epoch, const std::vector<callbacks::CallbackPtr>& cbs, Logs& logs);

  nn::ModulePtr module_;
  optim::OptimizerPtr optimizer_;
  nn::LossPtr loss_;
  std::vector<metrics::MetricPtr> metrics_;
  History history_;
};

}  // namespace kiln
