// Learning-rate schedulers, in closed form from each group's initial lr (as PyTorch's
// _get_closed_form_lr), so a resumed run that restores last_epoch gets the same lrs.
#include <kiln/optim.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>

namespace kiln::optim {

LRScheduler::LRScheduler(Optimizer& o) : opt_(o) {
  for (auto& g : o.param_groups()) base_lrs_.push_back(g.initial_lr);
}

void LRScheduler::step() {
  ++epoch_;
  auto& groups = opt_.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) groups[g].lr = lr_at(g);
}

std::vector<double> LRScheduler::get_last_lr() const {
  std::vector<double> out;
  for (auto& g : opt_.param_groups()) out.push_back(g.lr);
  return out;
}

StepLR::StepLR(Optimizer& o, int64_t step_size, double gamma) : LRScheduler(o), step_size(step_size), gamma(gamma) {
  KILN_CHECK(step_size > 0, ValueError, "StepLR: step_size must be positive");
}
double StepLR::lr_at(size_t g) const { return base_lrs_[g] * std::pow(gamma, static_cast<double>(epoch_ / step_size)); }

MultiStepLR::MultiStepLR(Optimizer& o, std::vector<int64_t> m, double gamma)
    : LRScheduler(o), milestones(std::move(m)), gamma(gamma) {
  std::sort(milestones.begin(), milestones.end());
}
double MultiStepLR::lr_at(size_t g) const {
  auto passed = std::upper_bound(milestones.begin(), milestones.end(), epoch_) - milestones.begin();
  return base_lrs_[g] * std::pow(gamma, static_cast<double>(passed));
}

ExponentialLR::ExponentialLR(Optimizer& o, double gamma) : LRScheduler(o), gamma(gamma) {}
double ExponentialLR::lr_at(size_t g) const { return base_lrs_[g] * std::pow(gamma, static_cast<double>(epoch_)); }

CosineAnnealingLR::CosineAnnealingLR(Optimizer& o, int64_t t_max, double eta_min)
    : LRScheduler(o), t_max(t_max), eta_min(eta_min) {
  KILN_CHECK(t_max > 0, ValueError, "CosineAnnealingLR: t_max must be positive");
}
double CosineAnnealingLR::lr_at(size_t g) const {
  return eta_min + (base_lrs_[g] - eta_min) * (1 + std::cos(std::numbers::pi * epoch_ / t_max)) / 2;
}

LinearLR::LinearLR(Optimizer& o, double s, double e, int64_t n)
    : LRScheduler(o), start_factor(s), end_factor(e), total_iters(n) {
  KILN_CHECK(s > 0 && s <= 1 && e >= 0 && e <= 1, ValueError, "LinearLR: factors must be in (0, 1]");
  for (size_t g = 0; g < o.param_groups().size(); ++g) o.param_groups()[g].lr = base_lrs_[g] * s;
}
double LinearLR::lr_at(size_t g) const {
  double t = static_cast<double>(std::min(epoch_, total_iters)) / static_cast<double>(std::max<int64_t>(total_iters, 1));
  return base_lrs_[g] * (start_factor + (end_factor - start_factor) * t);
}

OneCycleLR::OneCycleLR(Optimizer& o, double max_lr, int64_t total_steps, double pct, double div, double fdiv,
                       bool cycle_momentum, double base_momentum, double max_momentum)
    : LRScheduler(o),
      max_lr(max_lr),
      total_steps(total_steps),
      pct_start(pct),
      div_factor(div),
      final_div_factor(fdiv),
      cycle_momentum(cycle_momentum),
      base_momentum(base_momentum),
      max_momentum(max_momentum) {
  KILN_CHECK(total_steps > 0, ValueError, "OneCycleLR: total_steps must be positive");
  KILN_CHECK(pct >= 0 && pct <= 1, ValueError, "OneCycleLR: pct_start must be in [0, 1], got ", pct);
  if (cycle_momentum) {
    // PyTorch cycles beta1 for Adam-like optimizers, else momentum.
    momentum_key_ = o.has_option("beta1") ? "beta1" : o.has_option("momentum") ? "momentum" : "";
    KILN_CHECK(!momentum_key_.empty(), ValueError, "OneCycleLR: ", o.name(),
               " has no momentum or beta1 to cycle; pass cycle_momentum = false");
  }
  for (auto& g : o.param_groups()) g.lr = max_lr / div;
  set_momentum();
}

double OneCycleLR::anneal(double start, double peak, double end) const {
  double up = pct_start * static_cast<double>(total_steps) - 1.0;
  double down = static_cast<double>(total_steps) - 1.0;
  double t = static_cast<double>(epoch_);
  auto cos_anneal = [](double from, double to, double pct) {
    return to + (from - to) / 2.0 * (std::cos(std::numbers::pi * pct) + 1.0);
  };
  if (t <= up) return cos_anneal(start, peak, up > 0 ? t / up : 1.0);
  return cos_anneal(peak, end, std::min(1.0, (t - up) / std::max(down - up, 1.0)));
}

double OneCycleLR::lr_at(size_t) const {
  double initial = max_lr / div_factor;
  return anneal(initial, max_lr, initial / final_div_factor);
}

void OneCycleLR::step() {
  LRScheduler::step();
  set_momentum();
}

void OneCycleLR::set_momentum() {
  if (momentum_key_.empty()) return;
  double m = anneal(max_momentum, base_momentum, max_momentum);
  for (auto& g : opt_.param_groups()) g.options[momentum_key_] = m;
}

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& o, const std::string& mode, double factor, int64_t patience,
                                     double threshold, double min_lr)
    : LRScheduler(o), mode(mode), factor(factor), patience(patience), threshold(threshold), min_lr(min_lr) {
  KILN_CHECK(mode == "min" || mode == "max", ValueError, "ReduceLROnPlateau: mode must be min or max");
  KILN_CHECK(factor < 1.0, ValueError, "ReduceLROnPlateau: factor must be < 1");
  best_ = mode == "min" ? INFINITY : -INFINITY;
}
void ReduceLROnPlateau::step() {
  throw ValueError("ReduceLROnPlateau::step needs the monitored metric: call step(metric)");
}
void ReduceLROnPlateau::step(double metric) {
  ++epoch_;
  bool better = mode == "min" ? metric < best_ * (1.0 - threshold) : metric > best_ * (1.0 + threshold);
  if (better) {
    best_ = metric;
    bad_epochs_ = 0;
  } else if (++bad_epochs_ > patience) {
    for (auto& g : opt_.param_groups()) g.lr = std::max(g.lr * factor, min_lr);
    bad_epochs_ = 0;
  }
}
double ReduceLROnPlateau::lr_at(size_t g) const { return opt_.param_groups()[g].lr; }

}  // namespace kiln::optim
