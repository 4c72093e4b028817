// Optimizers. Every update is written with Kiln ops and copied into the parameter in place, so it
// runs on any backend and the handles users and modules hold stay valid.
#include <kiln/autograd.hpp>
#include <kiln/ops.hpp>
#include <kiln/optim.hpp>

#include "dispatch/dispatch.hpp"
#include "dispatch/in_place.hpp"

#include <cmath>

namespace kiln::optim {

Optimizer::Optimizer(std::vector<ParamGroup> groups, double lr, std::map<std::string, double> defaults)
    : defaults_(std::move(defaults)) {
  KILN_CHECK(lr >= 0, ValueError, "optimizer: learning rate must be non-negative, got ", lr);
  for (auto& g : groups) {
    if (g.lr <= 0) g.lr = lr;
    add_param_group(std::move(g));
  }
}

void Optimizer::add_param_group(ParamGroup group) {
  for (auto& p : group.params) {
    KILN_CHECK(p.defined() && is_floating(p.dtype()), ValueError, "optimizer: parameters must be floating tensors");
    KILN_CHECK(p.is_leaf(), ValueError, "optimizer: can't optimize a non-leaf tensor");
  }
  group.initial_lr = group.lr;
  groups_.push_back(std::move(group));
}

void Optimizer::set_lr(double lr) {
  for (auto& g : groups_) g.lr = lr;
}

void Optimizer::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params) p.set_grad(Tensor());
}

double Optimizer::option(const ParamGroup& g, const std::string& key) const {
  auto it = g.options.find(key);
  if (it != g.options.end()) return it->second;
  auto d = defaults_.find(key);
  KILN_ASSERT(d != defaults_.end(), "no optimizer option ", key);
  return d->second;
}

Tensor& Optimizer::state(size_t gi, size_t pi, const std::string& name, const Tensor& like) {
  std::string key = std::to_string(gi) + "." + std::to_string(pi) + "." + name;
  auto it = state_.find(key);
  if (it == state_.end()) it = state_.emplace(key, zeros_like(like.detach())).first;
  return it->second;
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  std::map<std::string, Tensor> out = state_;
  for (size_t g = 0; g < groups_.size(); ++g)
    out["group." + std::to_string(g) + ".lr"] = from_vector(std::vector<double>{groups_[g].lr}, {});
  return out;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  NoGradGuard guard;
  for (auto& [key, t] : state) {
    if (key.rfind("group.", 0) == 0) {
      size_t g = std::stoul(key.substr(6));
      KILN_CHECK(g < groups_.size(), ValueError, "optimizer state names group ", g, " but the optimizer has ",
                 groups_.size());
      groups_[g].lr = t.item<double>();
      continue;
    }
    state_[key] = t.clone();
  }
}

namespace {
std::vector<ParamGroup> one_group(std::vector<Tensor> params) {
  ParamGroup g;
  g.params = std::move(params);
  return {g};
}
// p <- value, in place, without recording.
void assign(const Tensor& p, const Tensor& value) {
  Tensor target = p;
  target.copy_(value);
}

// Note [In-place updates]: the hot updates run their pointwise ops with the state tensor itself
// as the output (a launch's output may be one of its inputs for pointwise ops, element by
// element), which saves the temporary and the copy back. Where the backend has MUL_ADD, SGD with
// momentum fuses each update into one launch, buf <- buf * momentum + grad and p <- buf * -lr + p,
// with momentum and -lr as one-element device tensors refilled only when they change: two
// launches per parameter (four with MUL and ADD, seven with temporaries), which is what a
// launch-bound step on a GPU pays for.
}  // namespace

// ---------------------------------------------------------------- SGD
SGD::SGD(std::vector<Tensor> params, double lr, SGDOptions o) : SGD(one_group(std::move(params)), lr, o) {}
SGD::SGD(std::vector<ParamGroup> groups, double lr, SGDOptions o)
    : Optimizer(std::move(groups), lr,
                {{"momentum", o.momentum}, {"dampening", o.dampening}, {"weight_decay", o.weight_decay},
                 {"nesterov", o.nesterov ? 1.0 : 0.0}}) {
  KILN_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0), ValueError,
             "SGD: Nesterov momentum needs momentum > 0 and dampening 0");
}

const Tensor& SGD::scalar(int slot, double value, const Tensor& like) {
  Scalar& s = scalars_[slot];
  if (!s.tensor.defined() || s.tensor.device() != like.device() || s.tensor.dtype() != like.dtype()) {
    s.tensor = full({}, value, {.dtype = like.dtype(), .device = like.device()});
    s.value = value;
  } else if (s.value != value) {
    s.tensor.fill_(value);
    s.value = value;
  }
  return s.tensor;
}

void SGD::step() {
  NoGradGuard guard;
  auto& groups = param_groups();
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const ParamGroup& g = groups[gi];
    double momentum = option(g, "momentum"), dampening = option(g, "dampening"), wd = option(g, "weight_decay");
    bool nesterov = option(g, "nesterov") != 0;
    for (size_t pi = 0; pi < g.params.size(); ++pi) {
      const Tensor& p = g.params[pi];
      Tensor d = p.grad();
      if (!d.defined()) continue;
      if (wd != 0) d = add(d, mul(p.detach(), wd));
      if (momentum != 0) {
        std::string key = std::to_string(gi) + "." + std::to_string(pi) + ".momentum_buffer";
        auto it = state_.find(key);
        if (it == state_.end()) {
          it = state_.emplace(key, d.clone()).first;  // first step: buf = d (PyTorch)
        } else if (dampening != 0 || !detail::mul_add_in_place(it->second, it->second, scalar(0, momentum, d), d)) {
          detail::scale_in_place(it->second, momentum);  // buf = buf * momentum + d * (1 - dampening)
          detail::add_scaled_in_place(it->second, d, 1.0 - dampening);
        }
        const Tensor& buf = it->second;
        d = nesterov ? add(d, mul(buf, momentum)) : buf;
      }
      if (d.shape() == p.shape() && d.dtype() == p.dtype()) {
        if (!detail::mul_add_in_place(p.detach(), d, scalar(1, -g.lr, p), p.detach()))
          detail::add_scaled_in_place(p.detach(), d, -g.lr);
      } else {
        assign(p, add(p.detach(), mul(d, -g.lr)));
      }
    }
  }
}

// ---------------------------------------------------------------- Adam / AdamW
Adam::Adam(std::vector<Tensor> params, double lr, AdamOptions o) : Adam(one_group(std::move(params)), lr, o) {}
Adam::Adam(std::vector<ParamGroup> groups, double lr, AdamOptions o)
    : Optimizer(std::move(groups), lr,
                {{"beta1", o.beta1}, {"beta2", o.beta2}, {"eps", o.eps}, {"weight_decay", o.weight_decay},
                 {"amsgrad", o.amsgrad ? 1.0 : 0.0}}) {}
AdamW::AdamW(std::vector<Tensor> params, double lr, AdamOptions o) : Adam(std::move(params), lr, o) { decoupled_ = true; }
AdamW::AdamW(std::vector<ParamGroup> groups, double lr, AdamOptions o) : Adam(std::move(groups), lr, o) {
  decoupled_ = true;
}

void Adam::step() {
  NoGradGuard guard;
  auto& groups = param_groups();
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const ParamGroup& g = groups[gi];
    double b1 = option(g, "beta1"), b2 = option(g, "beta2"), eps = option(g, "eps"), wd = option(g, "weight_decay");
    bool amsgrad = option(g, "amsgrad") != 0;
    for (size_t pi = 0; pi < g.params.size(); ++pi) {
      const Tensor& p = g.params[pi];
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      Tensor param = p.detach();
      if (wd != 0) {
        if (decoupled_) {
          assign(p, mul(param, 1.0 - g.lr * wd));
        } else {
          grad = add(grad, mul(param, wd));
        }
      }
      Tensor& step_t = state(gi, pi, "step", zeros({}, {.dtype = DType::Float64, .device = p.device()}));
      double t = step_t.item<double>() + 1.0;
      step_t.fill_(t);
      Tensor& m = state(gi, pi, "exp_avg", p);
      Tensor& v = state(gi, pi, "exp_avg_sq", p);
      assign(m, add(mul(m, b1), mul(grad, 1.0 - b1)));
      assign(v, add(mul(v, b2), mul(mul(grad, grad), 1.0 - b2)));
      double bc1 = 1.0 - std::pow(b1, t), bc2 = 1.0 - std::pow(b2, t);
      Tensor denom_src = v;
      if (amsgrad) {
        Tensor& vmax = state(gi, pi, "max_exp_avg_sq", p);
        assign(vmax, maximum(vmax, v));
        denom_src = vmax;
      }
      Tensor denom = add(mul(sqrt(denom_src), 1.0 / std::sqrt(bc2)), eps);
      assign(p, add(p.detach(), mul(div(m, denom), -g.lr / bc1)));
    }
  }
}

// ---------------------------------------------------------------- RMSprop
RMSprop::RMSprop(std::vector<Tensor> params, double lr, RMSpropOptions o)
    : RMSprop(one_group(std::move(params)), lr, o) {}
RMSprop::RMSprop(std::vector<ParamGroup> groups, double lr, RMSpropOptions o)
    : Optimizer(std::move(groups), lr,
                {{"alpha", o.alpha}, {"eps", o.eps}, {"weight_decay", o.weight_decay}, {"momentum", o.momentum},
                 {"centered", o.centered ? 1.0 : 0.0}}) {}

void RMSprop::step() {
  NoGradGuard guard;
  auto& groups = param_groups();
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const ParamGroup& g = groups[gi];
    double alpha = option(g, "alpha"), eps = option(g, "eps"), wd = option(g, "weight_decay"),
           momentum = option(g, "momentum");
    bool centered = option(g, "centered") != 0;
    for (size_t pi = 0; pi < g.params.size(); ++pi) {
      const Tensor& p = g.params[pi];
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (wd != 0) grad = add(grad, mul(p.detach(), wd));
      Tensor& sq = state(gi, pi, "square_avg", p);
      assign(sq, add(mul(sq, alpha), mul(mul(grad, grad), 1.0 - alpha)));
      Tensor avg;
      if (centered) {
        Tensor& ga = state(gi, pi, "grad_avg", p);
        assign(ga, add(mul(ga, alpha), mul(grad, 1.0 - alpha)));
        avg = add(sqrt(sub(sq, mul(ga, ga))), eps);
      } else {
        avg = add(sqrt(sq), eps);
      }
      if (momentum > 0) {
        Tensor& buf = state(gi, pi, "momentum_buffer", p);
        assign(buf, add(mul(buf, momentum), div(grad, avg)));
        assign(p, add(p.detach(), mul(buf, -g.lr)));
      } else {
        assign(p, add(p.detach(), mul(div(grad, avg), -g.lr)));
      }
    }
  }
}

// ---------------------------------------------------------------- Adagrad
Adagrad::Adagrad(std::vector<Tensor> params, double lr, AdagradOptions o)
    : Adagrad(one_group(std::move(params)), lr, o) {}
Adagrad::Adagrad(std::vector<ParamGroup> groups, double lr, AdagradOptions o)
    : Optimizer(std::move(groups), lr,
                {{"lr_decay", o.lr_decay}, {"weight_decay", o.weight_decay},
                 {"initial_accumulator_value", o.initial_accumulator_value}, {"eps", o.eps}}) {}

void Adagrad::step() {
  NoGradGuard guard;
  auto& groups = param_groups();
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const ParamGroup& g = groups[gi];
    double lr_decay = option(g, "lr_decay"), wd = option(g, "weight_decay"), eps = option(g, "eps"),
           init = option(g, "initial_accumulator_value");
    for (size_t pi = 0; pi < g.params.size(); ++pi) {
      const Tensor& p = g.params[pi];
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      std::string key = std::to_string(gi) + "." + std::to_string(pi) + ".sum";
      if (!state_.count(key)) state_[key] = full_like(p.detach(), init);
      Tensor& step_t = state(gi, pi, "step", zeros({}, {.dtype = DType::Float64, .device = p.device()}));
      double t = step_t.item<double>() + 1.0;
      step_t.fill_(t);
      if (wd != 0) grad = add(grad, mul(p.detach(), wd));
      double clr = g.lr / (1.0 + (t - 1.0) * lr_decay);
      Tensor& s = state_[key];
      assign(s, add(s, mul(grad, grad)));
      assign(p, add(p.detach(), mul(div(grad, add(sqrt(s), eps)), -clr)));
    }
  }
}

// ---------------------------------------------------------------- clipping
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  NoGradGuard guard;
  double total = 0;
  bool inf_norm = std::isinf(norm_type);
  for (auto& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (inf_norm) {
      total = std::max(total, amax(abs(g)).to(DType::Float64).item<double>());
    } else {
      total += sum(pow(abs(g.to(DType::Float64)), norm_type)).item<double>();
    }
  }
  if (!inf_norm) total = std::pow(total, 1.0 / norm_type);
  double coef = max_norm / (total + 1e-6);
  if (coef < 1.0) {
    for (auto& p : params) {
      Tensor g = p.grad();
      if (g.defined()) g.copy_(mul(g, coef));
    }
  }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double v) {
  NoGradGuard guard;
  for (auto& p : params) {
    Tensor g = p.grad();
    if (g.defined()) g.copy_(clamp(g, -v, v));
  }
}

}  // namespace kiln::optim
