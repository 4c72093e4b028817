// Model::fit: the epoch loop and the order in which callbacks see it (callbacks.hpp).
#include <kiln/autograd.hpp>
#include <kiln/error.hpp>
#include <kiln/model.hpp>

#include "training_mode.hpp"

namespace kiln {

void Model::run_epoch(data::BatchSource& train, int epoch, const std::vector<callbacks::CallbackPtr>& cbs,
                      Logs& logs) {
  module_->train();
  reset_metrics();
  train.start_epoch(epoch);
  double loss_sum = 0, count = 0;
  int64_t batch_index = 0;
  const Logs empty;
  while (auto batch = train.next()) {
    for (auto& cb : cbs) cb->on_batch_begin(batch_index, empty);
    auto [loss, n] = step(*batch, true);
    // The running loss is the per-sample mean so far, so a short last batch weighs what it holds.
    loss_sum += loss * static_cast<double>(n);
    count += static_cast<double>(n);
    logs = current_logs(loss_sum / count);
    for (auto& cb : cbs) cb->on_batch_end(batch_index, logs);
    ++batch_index;
    if (stop_training) break;
  }
  KILN_CHECK(batch_index > 0, ValueError, "Model::fit: the training source yielded no batches in epoch ", epoch);
}

History Model::fit(data::BatchSource& train, const FitOptions& options) {
  require_compiled("fit");
  KILN_CHECK(options.epochs >= 0 && options.initial_epoch >= 0 && options.initial_epoch <= options.epochs,
             ValueError, "Model::fit: expected 0 <= initial_epoch <= epochs, got initial_epoch ",
             options.initial_epoch, " and epochs ", options.epochs);

  std::vector<callbacks::CallbackPtr> cbs;
  bool has_bar = false;
  for (auto& cb : options.callbacks) {
    KILN_CHECK(cb != nullptr, ValueError, "Model::fit: callback ", cbs.size(), " is a null pointer");
    has_bar = has_bar || dynamic_cast<callbacks::ProgressBar*>(cb.get()) != nullptr;
    cbs.push_back(cb);
  }
  // First, as in Keras, so the epoch's line is printed before other callbacks report on it.
  if (options.verbose > 0 && !has_bar)
    cbs.insert(cbs.begin(), std::make_shared<callbacks::ProgressBar>(callbacks::ProgressBarOptions{.verbose = options.verbose}));

  callbacks::TrainingParams params{.epochs = options.epochs,
                                   .initial_epoch = options.initial_epoch,
                                   .steps = train.num_batches(),
                                   .samples = train.num_samples(),
                                   .verbose = options.verbose,
                                   .metrics = {}};
  for (auto& key : metrics_names()) params.metrics.push_back(key);
  if (options.validation)
    for (auto& key : metrics_names()) params.metrics.push_back("val_" + key);
  params.metrics.push_back("lr");
  for (auto& cb : cbs) {
    cb->set_model(this);
    cb->set_params(params);
  }
  // Callbacks point at this model only while fit runs.
  struct Detach {
    std::vector<callbacks::CallbackPtr>& cbs;
    ~Detach() {
      for (auto& cb : cbs) cb->set_model(nullptr);
    }
  } detach{cbs};

  detail::TrainingModeGuard mode(*module_, true);  // fit leaves train/eval flags as it found them
  stop_training = false;
  history_ = History();
  Logs logs;
  for (auto& cb : cbs) cb->on_train_begin(logs);
  for (int epoch = static_cast<int>(options.initial_epoch); epoch < options.epochs; ++epoch) {
    for (auto& cb : cbs) cb->on_epoch_begin(epoch, Logs());
    Logs epoch_logs;
    run_epoch(train, epoch, cbs, epoch_logs);
    if (options.validation) {
      for (auto& [key, value] : evaluate(*options.validation)) epoch_logs["val_" + key] = value;
    }
    epoch_logs["lr"] = optimizer_->lr();
    for (auto& cb : cbs) cb->on_epoch_end(epoch, epoch_logs);
    history_.epochs.push_back(epoch);
    for (auto& [key, value] : epoch_logs) history_.history[key].push_back(value);
    logs = epoch_logs;
    if (stop_training) break;
  }
  for (auto& cb : cbs) cb->on_train_end(logs);
  return history_;
}

}  // namespace kiln
