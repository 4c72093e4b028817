// Callbacks: code Model::fit runs at fixed points of training (keras.callbacks' shape).
//
// Order of calls in fit: on_train_begin; per epoch on_epoch_begin, then per batch on_batch_begin /
// on_batch_end, then (after validation) on_epoch_end; on_train_end last, also when a callback
// stops training early. Epochs and batches are counted from 0, as in Keras (the progress bar and
// file names show epoch + 1).
//
// Logs are the numbers of the moment: in on_batch_end, "loss" and each metric averaged over the
// epoch so far; in on_epoch_end, the epoch's "loss", metrics, "val_loss", "val_<metric>" and "lr".
// A callback may add keys in on_epoch_end; History records what is there after all callbacks ran.
#pragma once

#include <kiln/optim.hpp>

#include <cstdint>
#include <fstream>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

class Model;
using Logs = std::map<std::string, double>;

namespace callbacks {

// What fit tells every callback before on_train_begin.
struct TrainingParams {
  int epochs = 1;            // the last epoch is epochs - 1
  int64_t initial_epoch = 0;
  int64_t steps = -1;        // batches per epoch, -1 when the source doesn't know
  int64_t samples = -1;      // samples per epoch, -1 when unknown
  int verbose = 1;
  std::vector<std::string> metrics;  // the log keys, in order: loss, metrics, val_loss, val_..., lr
};

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(const Logs& logs) { (void)logs; }
  virtual void on_train_end(const Logs& logs) { (void)logs; }
  virtual void on_epoch_begin(int epoch, const Logs& logs) { (void)epoch, (void)logs; }
  virtual void on_epoch_end(int epoch, Logs& logs) { (void)epoch, (void)logs; }
  virtual void on_batch_begin(int64_t batch, const Logs& logs) { (void)batch, (void)logs; }
  virtual void on_batch_end(int64_t batch, const Logs& logs) { (void)batch, (void)logs; }

  // Set by fit before on_train_begin.
  void set_model(Model* model) { model_ = model; }
  void set_params(TrainingParams params) { params_ = std::move(params); }
  // The model being trained; throws ValueError outside fit.
  Model& model() const;
  const TrainingParams& params() const { return params_; }

 private:
  Model* model_ = nullptr;
  TrainingParams params_;
};
using CallbackPtr = std::shared_ptr<Callback>;

// Keras's progress bar. fit adds one when FitOptions::verbose > 0 and callbacks holds none.
//   Epoch 1/5
//   469/469 [==============================] - 12s 25ms/step - loss: 0.4412 - accuracy: 0.8421
// On a terminal (isatty) the line is redrawn in place with \r, with an ETA while running; otherwise
// (a file, a pipe, a CI log) it prints plain lines: the final one per epoch, plus one every
// print_every steps when that is > 0. verbose 2 prints only "Epoch 1/5 - 12s - loss: ..." lines.
struct ProgressBarOptions {
  int verbose = 1;
  std::ostream* out = nullptr;    // nullptr: std::cout
  std::optional<bool> terminal;   // unset: isatty(stdout) when out is std::cout, else false
  int64_t print_every = 0;        // not a terminal: also print every N steps (0: epoch ends only)
  int width = 30;                 // characters between the brackets
  double min_interval_s = 0.05;   // terminal: redraw at most this often (always on the last step)
};
class ProgressBar : public Callback {
 public:
  explicit ProgressBar(ProgressBarOptions options = {});
  void on_train_begin(const Logs& logs) override;
  void on_epoch_begin(int epoch, const Logs& logs) override;
  void on_batch_end(int64_t batch, const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  ProgressBarOptions options;

  // One bar, usable on its own (Model::evaluate uses it). On a terminal update() redraws in place;
  // elsewhere it does nothing and print_line() writes an intermediate line. finish() writes the
  // final line. verbose 2 lines carry no bar: "12s - 25ms/step - loss: ...".
  class Bar {
   public:
    using Values = std::vector<std::pair<std::string, double>>;
    Bar(int64_t target, std::ostream& out, bool terminal, int width = 30, double min_interval_s = 0.05,
        int verbose = 1);
    void update(int64_t current, const Values& values);
    void print_line(int64_t current, const Values& values);
    void finish(int64_t current, const Values& values, const std::string& prefix = "");
    void set_target(int64_t target) { target_ = target; }

   private:
    std::string line(int64_t current, const Values& values, bool final) const;
    double elapsed() const;
    int64_t target_;
    std::ostream& out_;
    bool terminal_;
    int width_;
    double min_interval_s_;
    int verbose_;
    double start_;
    double last_draw_ = -1;
    size_t last_width_ = 0;
  };

 private:
  std::vector<std::pair<std::string, double>> shown(const Logs& logs) const;
  std::ostream& out() const;
  bool terminal_ = false;
  std::unique_ptr<Bar> bar_;
  int64_t seen_steps_ = 0;
  int64_t last_batch_ = 0;
};

// Which way a monitored quantity improves. Auto: up for accuracy, precision, recall, f1 and auc
// names, down for everything else (losses).
enum class Mode { Auto, Min, Max };
// True when the monitored quantity improves upwards.
bool increases(Mode mode, const std::string& monitor);

// Stops training when `monitor` has not improved by more than min_delta for `patience` epochs.
// restore_best_weights: at the end of training, load the parameters and buffers of the best epoch.
struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double min_delta = 0.0;
  int patience = 0;
  Mode mode = Mode::Auto;
  std::optional<double> baseline;  // training must beat it for the patience count to reset
  bool restore_best_weights = false;
  int start_from_epoch = 0;        // epochs before this one are ignored (warm-up)
  int verbose = 0;
};
class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {});
  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_end(const Logs& logs) override;
  EarlyStoppingOptions options;
  // After fit: the epoch that stopped training (-1: none) and the best epoch and value.
  int stopped_epoch = -1;
  int best_epoch = -1;
  double best = 0.0;

 private:
  bool improved(double value, double reference) const;
  bool up_ = false;
  int wait_ = 0;
  std::map<std::string, Tensor> best_state_;
};

// Saves the model after epochs. path may hold {epoch} (1-based), any log key ({val_loss}), and a
// Python-style format spec ({epoch:02d}, {val_loss:.4f}). With save_best_only, it saves only when
// `monitor` improves on the best so far (the best is kept across fits). Missing folders are
// created; the file is written by kiln::save or kiln::save_checkpoint (serialize.hpp).
struct ModelCheckpointOptions {
  std::string monitor = "val_loss";
  bool save_best_only = false;
  Mode mode = Mode::Auto;
  std::optional<double> initial_value_threshold;  // the value to beat on the first epoch
  // true: kiln::save_checkpoint with the optimizer's state and the epoch (resume exactly);
  // false: kiln::save, the model alone.
  bool include_optimizer = false;
  int verbose = 0;
};
class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(std::string path, ModelCheckpointOptions options = {});
  void on_epoch_end(int epoch, Logs& logs) override;
  std::string path;
  ModelCheckpointOptions options;
  // After fit: every file written, in order.
  std::vector<std::string> saved;
  std::optional<double> best;
};
// Fills {name} / {name:spec} fields of pattern from epoch (1-based in the text) and logs;
// throws ValueError naming a field that logs lack or a spec it can't use.
std::string format_path(const std::string& pattern, int epoch, const Logs& logs);

// Writes one row per epoch: epoch (0-based, as Keras), loss, metrics, val_..., lr, then any
// other keys alphabetically. append: keep an existing file and its header.
struct CSVLoggerOptions {
  char separator = ',';
  bool append = false;
};
class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::string path, CSVLoggerOptions options = {});
  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_end(const Logs& logs) override;
  std::string path;
  CSVLoggerOptions options;

 private:
  std::ofstream file_;
  std::vector<std::string> columns_;
  bool header_written_ = false;
};

// Changes the learning rate, in one of two ways:
//  - a function (epoch, current lr) -> new lr, applied at the start of every epoch (Keras);
//  - an optim::LRScheduler stepped at the end of every epoch, or after every batch with
//    per_batch (OneCycleLR), as in a PyTorch loop. ReduceLROnPlateau (any scheduler, in fact)
//    is stepped with logs[monitor] when the logs hold it. The scheduler can be given built, or
//    as a factory that fit calls with the model's optimizer once training begins.
struct LearningRateSchedulerOptions {
  std::string monitor = "val_loss";
  bool per_batch = false;
  int verbose = 0;
};
class LearningRateScheduler : public Callback {
 public:
  using Schedule = std::function<double(int epoch, double lr)>;
  using SchedulerFactory = std::function<std::shared_ptr<optim::LRScheduler>(optim::Optimizer&)>;
  explicit LearningRateScheduler(Schedule schedule, LearningRateSchedulerOptions options = {});
  explicit LearningRateScheduler(std::shared_ptr<optim::LRScheduler> scheduler,
                                 LearningRateSchedulerOptions options = {});
  explicit LearningRateScheduler(SchedulerFactory factory, LearningRateSchedulerOptions options = {});
  void on_train_begin(const Logs& logs) override;
  void on_epoch_begin(int epoch, const Logs& logs) override;
  void on_batch_end(int64_t batch, const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  LearningRateSchedulerOptions options;
  const std::shared_ptr<optim::LRScheduler>& scheduler() const { return scheduler_; }

 private:
  Schedule schedule_;
  SchedulerFactory factory_;
  std::shared_ptr<optim::LRScheduler> scheduler_;
};

// Stops training at the first batch whose loss is NaN or infinite.
class TerminateOnNaN : public Callback {
 public:
  void on_batch_end(int64_t batch, const Logs& logs) override;
  // After fit: the batch (of its epoch) that stopped training, -1 if none.
  int64_t stopped_batch = -1;
};

// A callback from plain functions; unset ones do nothing:
//   std::make_shared<LambdaCallback>(LambdaCallbackFns{.epoch_end = [](int e, Logs& logs) { ... }})
struct LambdaCallbackFns {
  std::function<void(const Logs&)> train_begin, train_end;
  std::function<void(int, const Logs&)> epoch_begin;
  std::function<void(int, Logs&)> epoch_end;
  std::function<void(int64_t, const Logs&)> batch_begin, batch_end;
};
class LambdaCallback : public Callback {
 public:
  explicit LambdaCallback(LambdaCallbackFns fns) : fns(std::move(fns)) {}
  void on_train_begin(const Logs& logs) override {
    if (fns.train_begin) fns.train_begin(logs);
  }
  void on_train_end(const Logs& logs) override {
    if (fns.train_end) fns.train_end(logs);
  }
  void on_epoch_begin(int epoch, const Logs& logs) override {
    if (fns.epoch_begin) fns.epoch_begin(epoch, logs);
  }
  void on_epoch_end(int epoch, Logs& logs) override {
    if (fns.epoch_end) fns.epoch_end(epoch, logs);
  }
  void on_batch_begin(int64_t batch, const Logs& logs) override {
    if (fns.batch_begin) fns.batch_begin(batch, logs);
  }
  void on_batch_end(int64_t batch, const Logs& logs) override {
    if (fns.batch_end) fns.batch_end(batch, logs);
  }
  LambdaCallbackFns fns;
};

// True when out is std::cout or std::cerr and that stream is a terminal (isatty).
bool is_terminal(const std::ostream& out);

// Formats a log value as Keras does: 4 decimals, or scientific when |v| < 1e-3 (and not 0).
std::string format_value(double value);

}  // namespace callbacks
}  // namespace kiln
