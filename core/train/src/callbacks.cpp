// The built-in callbacks except ProgressBar (progress_bar.cpp).
#include <kiln/autograd.hpp>
#include <kiln/callbacks.hpp>
#include <kiln/error.hpp>
#include <kiln/model.hpp>
#include <kiln/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <regex>

namespace kiln::callbacks {
namespace {

// The shortest text that reads back as the same double (what Python's repr prints).
std::string shortest(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

double monitored(const Logs& logs, const std::string& monitor, const char* who) {
  auto it = logs.find(monitor);
  if (it == logs.end()) {
    std::string known;
    for (auto& [k, v] : logs) known += (known.empty() ? "" : ", ") + k;
    KILN_CHECK(false, ValueError, who, ": monitors '", monitor, "' but the epoch's logs hold only: ", known,
               " (val_ keys need FitOptions::validation)");
  }
  return it->second;
}

bool better(bool up, double value, double reference, double min_delta) {
  return up ? value - min_delta > reference : value + min_delta < reference;
}

}  // namespace

Model& Callback::model() const {
  KILN_CHECK(model_ != nullptr, ValueError, "Callback::model(): only available while Model::fit runs");
  return *model_;
}

bool increases(Mode mode, const std::string& monitor) {
  if (mode != Mode::Auto) return mode == Mode::Max;
  std::string n = monitor;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* word : {"acc", "precision", "recall", "f1", "auc"})
    if (n.find(word) != std::string::npos) return true;
  return false;
}

// ---------------------------------------------------------------- EarlyStopping
EarlyStopping::EarlyStopping(EarlyStoppingOptions options) : options(std::move(options)) {
  KILN_CHECK(this->options.patience >= 0, ValueError, "EarlyStopping: patience must be >= 0, got ",
             this->options.patience);
}

void EarlyStopping::on_train_begin(const Logs&) {
  up_ = increases(options.mode, options.monitor);
  wait_ = 0;
  stopped_epoch = best_epoch = -1;
  best = up_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  best_state_.clear();
}

namespace {
std::map<std::string, Tensor> snapshot(const nn::Module& module) {
  NoGradGuard no_grad;
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : module.state_dict()) out[name] = t.detach().clone();
  return out;
}
}  // namespace

void EarlyStopping::on_epoch_end(int epoch, Logs& logs) {
  double current = monitored(logs, options.monitor, "EarlyStopping");
  if (epoch < options.start_from_epoch) return;
  // The first epoch counts as the best so far, so there is always something to restore.
  if (options.restore_best_weights && best_state_.empty()) best_state_ = snapshot(model().module());
  ++wait_;
  if (better(up_, current, best, std::abs(options.min_delta))) {
    best = current;
    best_epoch = epoch;
    if (options.restore_best_weights) best_state_ = snapshot(model().module());
    if (!options.baseline || better(up_, current, *options.baseline, std::abs(options.min_delta))) wait_ = 0;
    return;
  }
  if (wait_ >= options.patience && epoch > 0) {
    stopped_epoch = epoch;
    model().stop_training = true;
  }
}

void EarlyStopping::on_train_end(const Logs&) {
  if (options.verbose > 0 && stopped_epoch >= 0) std::cout << "Epoch " << stopped_epoch + 1 << ": early stopping\n";
  if (options.restore_best_weights && !best_state_.empty()) {
    if (options.verbose > 0)
      std::cout << "Restoring model weights from the end of the best epoch: " << best_epoch + 1 << ".\n";
    model().module().load_state_dict(best_state_);
  }
  std::cout << std::flush;
}

// ---------------------------------------------------------------- ModelCheckpoint
std::string format_path(const std::string& pattern, int epoch, const Logs& logs) {
  static const std::regex spec_re(R"(^(0?)(\d*)(?:\.(\d+))?([dfeg]?)$)");
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if ((c == '{' || c == '}') && i + 1 < pattern.size() && pattern[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    size_t close = pattern.find('}', i);
    KILN_CHECK(close != std::string::npos, ValueError, "ModelCheckpoint: unclosed '{' at character ", i, " of '",
               pattern, "'");
    std::string field = pattern.substr(i + 1, close - i - 1);
    std::string name = field.substr(0, field.find(':'));
    std::string spec = field.find(':') == std::string::npos ? "" : field.substr(field.find(':') + 1);
    double value = 0;
    bool integral = name == "epoch";
    if (integral) {
      value = epoch + 1;
    } else {
      auto it = logs.find(name);
      KILN_CHECK(it != logs.end(), ValueError, "ModelCheckpoint: the path '", pattern, "' uses {", name,
                 "} but the logs have no such key");
      value = it->second;
    }
    std::smatch m;
    KILN_CHECK(std::regex_match(spec, m, spec_re), ValueError, "ModelCheckpoint: can't use the format spec '", spec,
               "' in '", pattern, "' (supported: [0][width][.precision][d|f|e|g])");
    std::string type = m[4].str();
    if (type.empty()) type = integral ? "d" : (m[3].matched ? "f" : "");
    char buf[128];
    if (type == "d") {
      std::string fmt = "%" + m[1].str() + m[2].str() + "lld";
      std::snprintf(buf, sizeof buf, fmt.c_str(), static_cast<long long>(std::llround(value)));
      out += buf;
    } else if (type.empty()) {
      out += shortest(value);
    } else {
      std::string fmt = "%" + m[1].str() + m[2].str() + (m[3].matched ? "." + m[3].str() : "") + type;
      std::snprintf(buf, sizeof buf, fmt.c_str(), value);
      out += buf;
    }
    i = close;
  }
  return out;
}

ModelCheckpoint::ModelCheckpoint(std::string path, ModelCheckpointOptions options)
    : path(std::move(path)), options(std::move(options)) {
  KILN_CHECK(!this->path.empty(), ValueError, "ModelCheckpoint: needs a file path");
  best = this->options.initial_value_threshold;
}

void ModelCheckpoint::on_epoch_end(int epoch, Logs& logs) {
  if (options.save_best_only) {
    double current = monitored(logs, options.monitor, "ModelCheckpoint");
    bool up = increases(options.mode, options.monitor);
    if (std::isnan(current) || (best && !better(up, current, *best, 0.0))) {
      if (options.verbose > 0)
        std::cout << "Epoch " << epoch + 1 << ": " << options.monitor << " did not improve"
                  << (best ? " from " + format_value(*best) : std::string()) << "\n" << std::flush;
      return;
    }
    if (options.verbose > 0)
      std::cout << "Epoch " << epoch + 1 << ": " << options.monitor << " improved from "
                << (best ? format_value(*best) : std::string("inf")) << " to " << format_value(current) << "\n";
    best = current;
  }
  std::string file = format_path(path, epoch, logs);
  std::filesystem::path parent = std::filesystem::path(file).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  if (options.include_optimizer)
    save_checkpoint(file, model().module(), &model().optimizer(), epoch);
  else
    save(model().module(), file);
  saved.push_back(file);
  if (options.verbose > 0) std::cout << "Epoch " << epoch + 1 << ": saving model to " << file << "\n" << std::flush;
}

// ---------------------------------------------------------------- CSVLogger
CSVLogger::CSVLogger(std::string path, CSVLoggerOptions options) : path(std::move(path)), options(options) {}

void CSVLogger::on_train_begin(const Logs&) {
  columns_.clear();
  header_written_ = false;
  if (options.append && std::filesystem::exists(path)) {
    std::ifstream in(path);
    std::string header;
    if (std::getline(in, header) && !header.empty()) {
      // Keep the existing file's columns (after "epoch") so rows line up under its header.
      size_t start = 0;
      bool first = true;
      while (start <= header.size()) {
        size_t end = header.find(options.separator, start);
        std::string col = header.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (!first) columns_.push_back(col);
        first = false;
        if (end == std::string::npos) break;
        start = end + 1;
      }
      header_written_ = true;
    }
  }
  file_.open(path, options.append ? std::ios::app : std::ios::trunc);
  KILN_CHECK(file_.good(), DataError, "CSVLogger: can't open '", path, "' for writing");
}

void CSVLogger::on_epoch_end(int epoch, Logs& logs) {
  if (columns_.empty()) {
    for (auto& key : params().metrics)
      if (logs.count(key)) columns_.push_back(key);
    for (auto& [key, value] : logs)
      if (std::find(columns_.begin(), columns_.end(), key) == columns_.end()) columns_.push_back(key);
  }
  if (!header_written_) {
    file_ << "epoch";
    for (auto& c : columns_) file_ << options.separator << c;
    file_ << '\n';
    header_written_ = true;
  }
  file_ << epoch;
  for (auto& c : columns_) {
    auto it = logs.find(c);
    file_ << options.separator << (it == logs.end() ? std::string("NA") : shortest(it->second));
  }
  file_ << '\n' << std::flush;
  KILN_CHECK(file_.good(), DataError, "CSVLogger: writing '", path, "' failed");
}

void CSVLogger::on_train_end(const Logs&) { file_.close(); }

// ---------------------------------------------------------------- LearningRateScheduler
LearningRateScheduler::LearningRateScheduler(Schedule schedule, LearningRateSchedulerOptions options)
    : options(std::move(options)), schedule_(std::move(schedule)) {
  KILN_CHECK(schedule_ != nullptr, ValueError, "LearningRateScheduler: the schedule function is empty");
}

LearningRateScheduler::LearningRateScheduler(std::shared_ptr<optim::LRScheduler> scheduler,
                                             LearningRateSchedulerOptions options)
    : options(std::move(options)), scheduler_(std::move(scheduler)) {
  KILN_CHECK(scheduler_ != nullptr, ValueError, "LearningRateScheduler: the scheduler is a null pointer");
}

LearningRateScheduler::LearningRateScheduler(SchedulerFactory factory, LearningRateSchedulerOptions options)
    : options(std::move(options)), factory_(std::move(factory)) {
  KILN_CHECK(factory_ != nullptr, ValueError, "LearningRateScheduler: the scheduler factory is empty");
}

void LearningRateScheduler::on_train_begin(const Logs&) {
  // Built once, so a second fit (resuming) continues the schedule instead of restarting it.
  if (factory_ && !scheduler_) {
    scheduler_ = factory_(model().optimizer());
    KILN_CHECK(scheduler_ != nullptr, ValueError, "LearningRateScheduler: the factory returned no scheduler");
  }
}

void LearningRateScheduler::on_epoch_begin(int epoch, const Logs&) {
  if (!schedule_) return;
  optim::Optimizer& opt = model().optimizer();
  double lr = schedule_(epoch, opt.lr());
  KILN_CHECK(std::isfinite(lr) && lr >= 0, ValueError, "LearningRateScheduler: the schedule returned lr ", lr,
             " for epoch ", epoch, "; expected a finite value >= 0");
  opt.set_lr(lr);
  if (options.verbose > 0)
    std::cout << "\nEpoch " << epoch + 1 << ": LearningRateScheduler setting learning rate to " << shortest(lr)
              << ".\n" << std::flush;
}

void LearningRateScheduler::on_batch_end(int64_t, const Logs&) {
  if (scheduler_ && options.per_batch) scheduler_->step();
}

void LearningRateScheduler::on_epoch_end(int, Logs& logs) {
  if (!scheduler_ || options.per_batch) return;
  auto it = logs.find(options.monitor);
  if (it != logs.end()) {
    scheduler_->step(it->second);
  } else {
    KILN_CHECK(dynamic_cast<optim::ReduceLROnPlateau*>(scheduler_.get()) == nullptr, ValueError,
               "LearningRateScheduler: ReduceLROnPlateau monitors '", options.monitor,
               "' but the epoch's logs lack it (val_ keys need FitOptions::validation; or set options.monitor)");
    scheduler_->step();
  }
}

// ---------------------------------------------------------------- TerminateOnNaN
void TerminateOnNaN::on_batch_end(int64_t batch, const Logs& logs) {
  auto it = logs.find("loss");
  if (it == logs.end() || std::isfinite(it->second)) return;
  std::cout << "Batch " << batch << ": Invalid loss, terminating training\n" << std::flush;
  stopped_batch = batch;
  model().stop_training = true;
}

}  // namespace kiln::callbacks
