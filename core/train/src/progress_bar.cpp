// ProgressBar: Keras's progress bar, redrawn in place on a terminal, plain lines elsewhere.
#include <kiln/callbacks.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace kiln::callbacks {
namespace {

double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::string printf_string(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// "25ms/step", as Keras picks s, ms or us.
std::string per_step(double seconds) {
  if (seconds >= 1 || seconds == 0) return printf_string("%.0fs/step", seconds);
  if (seconds >= 1e-3) return printf_string("%.0fms/step", seconds * 1e3);
  return printf_string("%.0fus/step", seconds * 1e6);
}

std::string eta(double seconds) {
  long s = std::lround(seconds);
  char buf[64];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s % 3600) / 60, s % 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

}  // namespace

std::string format_value(double value) {
  if (value != 0 && std::abs(value) < 1e-3 && std::isfinite(value)) return printf_string("%.4e", value);
  return printf_string("%.4f", value);
}

bool is_terminal(const std::ostream& out) {
  if (&out == &std::cout) return isatty(fileno(stdout)) != 0;
  if (&out == &std::cerr) return isatty(fileno(stderr)) != 0;
  return false;
}

// ---------------------------------------------------------------- Bar
ProgressBar::Bar::Bar(int64_t target, std::ostream& out, bool terminal, int width, double min_interval_s, int verbose)
    : target_(target), out_(out), terminal_(terminal), width_(std::max(width, 1)),
      min_interval_s_(min_interval_s), verbose_(verbose), start_(now_s()) {}

double ProgressBar::Bar::elapsed() const { return now_s() - start_; }

std::string ProgressBar::Bar::line(int64_t current, const Values& values, bool final) const {
  double seconds = elapsed();
  double per = current > 0 ? seconds / static_cast<double>(current) : 0.0;
  std::string s;
  if (verbose_ >= 2) {
    s = printf_string("%.0fs", seconds) + " - " + per_step(per);
  } else {
    if (target_ > 0) {
      int digits = static_cast<int>(std::to_string(target_).size());
      char buf[64];
      std::snprintf(buf, sizeof buf, "%*lld/%lld [", digits, static_cast<long long>(current),
                    static_cast<long long>(target_));
      s = buf;
      double progress = std::min(1.0, static_cast<double>(current) / static_cast<double>(target_));
      int filled = static_cast<int>(width_ * progress);
      if (filled > 0) {
        s += std::string(filled - 1, '=');
        s += current < target_ ? '>' : '=';
      }
      s += std::string(width_ - filled, '.') + "]";
    } else {
      s = printf_string("%7.0f/Unknown", static_cast<double>(current));
    }
    if (!final && target_ > 0 && current < target_)
      s += " - ETA: " + eta(per * static_cast<double>(target_ - current));
    else
      s += printf_string(" - %.0fs", seconds) + " " + per_step(per);
  }
  for (auto& [key, value] : values) s += " - " + key + ": " + format_value(value);
  return s;
}

void ProgressBar::Bar::update(int64_t current, const Values& values) {
  if (!terminal_ || verbose_ != 1) return;
  double t = elapsed();
  if (last_draw_ >= 0 && t - last_draw_ < min_interval_s_ && (target_ <= 0 || current < target_)) return;
  last_draw_ = t;
  std::string s = line(current, values, false);
  size_t width = s.size();
  if (width < last_width_) s += std::string(last_width_ - width, ' ');
  last_width_ = width;
  out_ << '\r' << s << std::flush;
}

void ProgressBar::Bar::print_line(int64_t current, const Values& values) {
  if (terminal_) return update(current, values);
  out_ << line(current, values, false) << '\n' << std::flush;
}

void ProgressBar::Bar::finish(int64_t current, const Values& values, const std::string& prefix) {
  std::string s = prefix + line(current, values, true);
  if (terminal_ && verbose_ == 1) {
    size_t width = s.size();
    if (width < last_width_) s += std::string(last_width_ - width, ' ');
    out_ << '\r';
  }
  out_ << s << '\n' << std::flush;
  last_width_ = 0;
}

// ---------------------------------------------------------------- ProgressBar
ProgressBar::ProgressBar(ProgressBarOptions options) : options(options) {}

std::ostream& ProgressBar::out() const { return options.out ? *options.out : std::cout; }

void ProgressBar::on_train_begin(const Logs&) {
  terminal_ = options.terminal.value_or(is_terminal(out()));
  seen_steps_ = params().steps;
}

void ProgressBar::on_epoch_begin(int epoch, const Logs&) {
  if (options.verbose <= 0) return;
  if (options.verbose == 1) out() << "Epoch " << epoch + 1 << "/" << params().epochs << '\n' << std::flush;
  bar_ = std::make_unique<Bar>(seen_steps_, out(), terminal_, options.width, options.min_interval_s, options.verbose);
}

std::vector<std::pair<std::string, double>> ProgressBar::shown(const Logs& logs) const {
  std::vector<std::pair<std::string, double>> out;
  for (auto& key : params().metrics) {
    auto it = logs.find(key);
    if (key != "lr" && it != logs.end()) out.emplace_back(key, it->second);
  }
  for (auto& [key, value] : logs) {
    bool listed = std::find(params().metrics.begin(), params().metrics.end(), key) != params().metrics.end();
    if (!listed && key != "lr") out.emplace_back(key, value);
  }
  return out;
}

void ProgressBar::on_batch_end(int64_t batch, const Logs& logs) {
  int64_t current = batch + 1;
  last_batch_ = current;
  if (!bar_ || options.verbose != 1) return;
  bool last = seen_steps_ > 0 && current >= seen_steps_;
  if (terminal_) bar_->update(current, shown(logs));
  else if (options.print_every > 0 && current % options.print_every == 0 && !last) bar_->print_line(current, shown(logs));
}

void ProgressBar::on_epoch_end(int epoch, Logs& logs) {
  if (!bar_) return;
  if (seen_steps_ <= 0) {
    seen_steps_ = last_batch_;  // an unknown-length source: now we know
    bar_->set_target(seen_steps_);
  }
  std::string prefix;
  if (options.verbose >= 2) prefix = "Epoch " + std::to_string(epoch + 1) + "/" + std::to_string(params().epochs) + " - ";
  bar_->finish(last_batch_, shown(logs), prefix);
  bar_.reset();
}

}  // namespace kiln::callbacks
