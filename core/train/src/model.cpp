// Model: construction, compile, evaluate, predict and single-batch steps. fit is in model_fit.cpp,
// summary in model_summary.cpp.
#include <kiln/autograd.hpp>
#include <kiln/error.hpp>
#include <kiln/model.hpp>
#include <kiln/ops.hpp>
#include <kiln/serialize.hpp>

#include "training_mode.hpp"

#include <algorithm>
#include <cctype>
#include <iostream>
#include <set>

namespace kiln {

// ---------------------------------------------------------------- compile's arguments
optim::OptimizerPtr OptimizerSpec::build(nn::Module& module) const {
  optim::OptimizerPtr opt = optimizer_ ? optimizer_ : factory_ ? factory_(module.parameters()) : nullptr;
  KILN_CHECK(opt != nullptr, ValueError, "Model::compile: the optimizer factory returned no optimizer");
  size_t count = 0;
  for (auto& g : opt->param_groups()) count += g.params.size();
  KILN_CHECK(count > 0, ValueError, "Model::compile: the ", opt->name(),
             " optimizer has no parameters; build it on the module's (optim::", opt->name(),
             "(net->parameters(), lr)) or pass a factory ([](auto params) { ... })");
  return opt;
}

namespace {
class FunctionLoss : public nn::Loss {
 public:
  explicit FunctionLoss(std::function<Tensor(const Tensor&, const Tensor&)> fn) : fn_(std::move(fn)) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const override { return fn_(input, target); }
  std::string name() const override { return "custom"; }

 private:
  std::function<Tensor(const Tensor&, const Tensor&)> fn_;
};
}  // namespace

LossSpec::LossSpec(std::function<Tensor(const Tensor&, const Tensor&)> fn, int)
    : loss_(std::make_shared<FunctionLoss>(std::move(fn))) {}

LossSpec::LossSpec(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  if (n == "cross_entropy") loss_ = std::make_shared<nn::CrossEntropyLoss>();
  else if (n == "nll") loss_ = std::make_shared<nn::NLLLoss>();
  else if (n == "mse") loss_ = std::make_shared<nn::MSELoss>();
  else if (n == "l1") loss_ = std::make_shared<nn::L1Loss>();
  else if (n == "smooth_l1") loss_ = std::make_shared<nn::SmoothL1Loss>();
  else if (n == "bce") loss_ = std::make_shared<nn::BCELoss>();
  else if (n == "bce_with_logits") loss_ = std::make_shared<nn::BCEWithLogitsLoss>();
  KILN_CHECK(loss_ != nullptr, ValueError, "Model::compile: unknown loss '", name,
             "'; known names: cross_entropy, nll, mse, l1, smooth_l1, bce, bce_with_logits");
}

const std::vector<double>& History::operator[](const std::string& key) const {
  auto it = history.find(key);
  if (it == history.end()) {
    std::string known;
    for (auto& [k, v] : history) known += (known.empty() ? "" : ", ") + k;
    KILN_CHECK(false, ValueError, "History: no key '", key, "'; it has: ", known.empty() ? "(nothing)" : known);
  }
  return it->second;
}

// ---------------------------------------------------------------- Model
Model::Model(nn::ModulePtr module) : module_(std::move(module)) {
  KILN_CHECK(module_ != nullptr, ValueError, "Model: needs a module, got a null pointer");
}

void Model::compile(OptimizerSpec optimizer, LossSpec loss, std::vector<metrics::MetricSpec> metrics) {
  KILN_CHECK(loss.ptr() != nullptr, ValueError, "Model::compile: the loss is a null pointer");
  std::vector<metrics::MetricPtr> list;
  std::set<std::string> names{"loss"};
  for (auto& spec : metrics) {
    KILN_CHECK(spec.ptr() != nullptr, ValueError, "Model::compile: metric ", list.size(), " is a null pointer");
    KILN_CHECK(names.insert(spec.ptr()->name()).second, ValueError, "Model::compile: two metrics are named '",
               spec.ptr()->name(), "'; give one another name (Metric::set_name or its constructor)");
    list.push_back(spec.ptr());
  }
  optimizer_ = optimizer.build(*module_);
  loss_ = loss.ptr();
  metrics_ = std::move(list);
}

void Model::require_compiled(const char* what) const {
  KILN_CHECK(compiled(), ValueError, "Model::", what,
             ": call compile(optimizer, loss, metrics) first, e.g. model.compile(optim::SGD(net->parameters(), "
             "0.01), nn::CrossEntropyLoss(), {metrics::Accuracy()})");
}

optim::Optimizer& Model::optimizer() const {
  require_compiled("optimizer");
  return *optimizer_;
}

nn::Loss& Model::loss() const {
  require_compiled("loss");
  return *loss_;
}

std::vector<std::string> Model::metrics_names() const {
  std::vector<std::string> out{"loss"};
  for (auto& m : metrics_) out.push_back(m->name());
  return out;
}

void Model::reset_metrics() {
  for (auto& m : metrics_) m->reset();
}

Logs Model::current_logs(double loss) const {
  Logs logs{{"loss", loss}};
  for (auto& m : metrics_) logs[m->name()] = m->result();
  return logs;
}

Tensor Model::to_model_device(const Tensor& t) const {
  if (!t.defined()) return t;
  auto params = module_->named_parameters();
  if (params.empty()) return t;
  const Device& device = params.front().second.device();
  return t.device() == device ? t : t.to(device);
}

std::pair<double, int64_t> Model::step(const data::Batch& batch, bool train) {
  Tensor x = to_model_device(batch.input), y = to_model_device(batch.target);
  KILN_CHECK(y.defined(), ValueError, "Model::", train ? "fit" : "evaluate",
             ": a batch has no target; the loss needs one (predict() takes batches without targets)");
  Tensor out = (*module_)(x);
  Tensor loss = (*loss_)(out, y);
  KILN_CHECK(loss.numel() == 1, ShapeError, "Model: the ", loss_->name(),
             " loss must reduce to one number (reduction mean or sum), got shape ", loss.shape());
  if (train) {
    module_->zero_grad();
    optimizer_->zero_grad();
    loss.backward();
    optimizer_->step();
  }
  {
    NoGradGuard no_grad;
    Tensor pred = out.detach();
    for (auto& m : metrics_) m->update(pred, y);
  }
  return {loss.item<double>(), x.dim() > 0 ? x.size(0) : 1};
}

Logs Model::evaluate(data::BatchSource& data, int verbose) {
  require_compiled("evaluate");
  detail::TrainingModeGuard mode(*module_, false);
  NoGradGuard no_grad;
  reset_metrics();
  data.start_epoch(0);
  std::unique_ptr<callbacks::ProgressBar::Bar> bar;
  if (verbose > 0)
    bar = std::make_unique<callbacks::ProgressBar::Bar>(data.num_batches(), std::cout,
                                                        callbacks::is_terminal(std::cout), 30, 0.05, verbose);
  callbacks::ProgressBar::Bar::Values values;
  double loss_sum = 0, count = 0;
  int64_t steps = 0;
  while (auto batch = data.next()) {
    auto [loss, n] = step(*batch, false);
    loss_sum += loss * static_cast<double>(n);
    count += static_cast<double>(n);
    ++steps;
    if (bar) {
      values = {{"loss", loss_sum / count}};
      for (auto& m : metrics_) values.emplace_back(m->name(), m->result());
      bar->update(steps, values);
    }
  }
  KILN_CHECK(steps > 0, ValueError, "Model::evaluate: the data source yielded no batches");
  Logs logs = current_logs(loss_sum / count);
  if (bar) {
    values.clear();
    for (auto& key : metrics_names()) values.emplace_back(key, logs[key]);
    bar->finish(steps, values);
  }
  return logs;
}

Tensor Model::predict(data::BatchSource& data) {
  detail::TrainingModeGuard mode(*module_, false);
  NoGradGuard no_grad;
  data.start_epoch(0);
  std::vector<Tensor> outputs;
  while (auto batch = data.next()) outputs.push_back((*module_)(to_model_device(batch->input)));
  KILN_CHECK(!outputs.empty(), ValueError, "Model::predict: the data source yielded no batches");
  return outputs.size() == 1 ? outputs.front() : cat(outputs, 0);
}

Tensor Model::predict(const Tensor& x, int64_t batch_size) {
  KILN_CHECK(x.defined() && x.dim() >= 1, ShapeError, "Model::predict: expected inputs [N, ...], got ",
             x.defined() ? x.shape().str() : "an undefined tensor");
  data::TensorBatches batches(x, Tensor(), {.batch_size = batch_size});
  return predict(batches);
}

void Model::save(const std::string& path) const { kiln::save(*module_, path); }

Logs Model::train_on_batch(const Tensor& x, const Tensor& y) {
  require_compiled("train_on_batch");
  detail::TrainingModeGuard mode(*module_, true);
  reset_metrics();
  return current_logs(step({x, y}, true).first);
}

Logs Model::test_on_batch(const Tensor& x, const Tensor& y) {
  require_compiled("test_on_batch");
  detail::TrainingModeGuard mode(*module_, false);
  NoGradGuard no_grad;
  reset_metrics();
  return current_logs(step({x, y}, false).first);
}

}  // namespace kiln
