// nn::functional: composites built from catalogue ops (so every backend runs them).
#include <kiln/autograd.hpp>
#include <kiln/nn/functional.hpp>
#include <kiln/random.hpp>

#include <cmath>

#include "dispatch/in_place.hpp"

namespace kiln::nn::functional {

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  KILN_CHECK(weight.dim() == 2, ShapeError, "linear: expected weight [out, in], got shape ", weight.shape());
  KILN_CHECK(x.dim() >= 1 && x.shape()[x.dim() - 1] == weight.shape()[1], ShapeError, "linear: expected input [..., ",
             weight.shape()[1], "], got shape ", x.shape());
  Tensor y = matmul(x, weight.t());
  return bias.defined() ? add(y, bias) : y;
}

Tensor dropout(const Tensor& x, double p, bool training) {
  KILN_CHECK(p >= 0 && p <= 1, ValueError, "dropout: p must be in [0, 1], got ", p);
  if (!training || p == 0) return x;
  if (p == 1) return mul(x, 0.0);
  Tensor mask = bernoulli(x.detach(), 1.0 - p);
  return mul(x, mul(mask, 1.0 / (1.0 - p)));
}

// Note [Batch norm passes]: batch norm runs on the full activation tensor, so its cost is the
// number of passes over it. The forward folds the statistics into a per-channel scale and shift,
// y = x * scale + shift (statistics: two reductions; output: one mul_add pass), and training
// mode records one closed-form backward instead of differentiating the composite:
//   xhat = (x - mean) * invstd,  dbias = sum(dy),  dweight = sum(dy * xhat)
//        = (sum(dy * x) - mean * sum(dy)) * invstd,
//   dx = a * dy + b * x + c  with  a = weight * invstd,  b = -a * invstd * dweight / M,
//        c = -a * dbias / M - b * mean   (M values per channel),
// three passes for the sums and two for dx (mul_add, which backends run per channel without
// index arithmetic; four passes as MUL and ADD where a backend lacks it), where differentiating
// the composite takes about fifteen. The per-channel arithmetic is on [1, C, 1, ...] tensors and
// costs only its launches.
namespace {
// running <- running * (1 - momentum) + stat * scale, in place (three launches, no temporaries
// beyond one) when the two agree in dtype and device, else through copy_.
void update_running(Tensor& running, const Tensor& stat, double momentum, double scale) {
  if (running.dtype() != stat.dtype() || running.device() != stat.device() || !running.is_contiguous()) {
    running.copy_(add(mul(running, 1.0 - momentum), mul(stat, momentum * scale)));
    return;
  }
  detail::scale_in_place(running, 1.0 - momentum);
  detail::add_scaled_in_place(running, stat, momentum * scale);
}
}  // namespace

Tensor batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight, const Tensor& bias,
                  bool training, double momentum, double eps) {
  KILN_CHECK(x.dim() >= 2, ShapeError, "batch_norm: expected input [N, C, ...], got shape ", x.shape());
  int64_t c = x.shape()[1];
  std::vector<int64_t> axes{0};
  for (int64_t i = 2; i < x.dim(); ++i) axes.push_back(i);
  Shape stat_shape{1, c};
  for (int64_t i = 2; i < x.dim(); ++i) stat_shape.push_back(1);
  for (const Tensor* p : std::initializer_list<const Tensor*>{&weight, &bias, &running_mean, &running_var})
    KILN_CHECK(!p->defined() || p->numel() == c, ShapeError, "batch_norm: expected per-channel tensors of ", c,
               " values for input ", x.shape(), ", got shape ", p->shape());
  if (!training && running_mean.defined()) {
    // y = x * scale + shift with the running statistics; autograd differentiates it as written.
    Tensor scale = rsqrt(add(running_var.reshape(stat_shape), eps));
    if (weight.defined()) scale = mul(scale, weight.reshape(stat_shape));
    Tensor shift = mul(neg(running_mean.reshape(stat_shape)), scale);
    if (bias.defined()) shift = add(shift, bias.reshape(stat_shape));
    return mul_add(x, scale, shift);
  }
  const int64_t m = x.numel() / std::max<int64_t>(c, 1);
  KILN_CHECK(m > 1 || !training, ValueError, "batch_norm: expected more than 1 value per channel when training, got input ",
             x.shape());
  Tensor y, neg_mean, invstd, a;
  {
    NoGradGuard guard;
    Tensor xd = x.detach();
    Tensor mean_t = mean(xd, axes, true);
    Tensor var_t = var(xd, axes, 0.0, true);
    if (training && running_mean.defined()) {
      update_running(running_mean, mean_t.reshape({c}), momentum, 1.0);
      update_running(running_var, var_t.reshape({c}), momentum,
                     static_cast<double>(m) / static_cast<double>(std::max<int64_t>(m - 1, 1)));  // unbiased
    }
    invstd = rsqrt(add(var_t, eps));
    a = weight.defined() ? mul(invstd, weight.detach().reshape(stat_shape)) : invstd;
    neg_mean = neg(mean_t);
    Tensor shift = bias.defined() ? mul_add(neg_mean, a, bias.detach().reshape(stat_shape)) : mul(neg_mean, a);
    y = mul_add(xd, a, shift);
  }
  if (!autograd::needs_grad({x, weight, bias})) return y;
  std::vector<Tensor> inputs{x};
  if (weight.defined()) inputs.push_back(weight);
  if (bias.defined()) inputs.push_back(bias);
  const bool has_weight = weight.defined(), has_bias = bias.defined();
  const Shape param_shape = weight.defined() ? weight.shape() : bias.defined() ? bias.shape() : Shape{c};
  Tensor xd = x.detach();
  autograd::record("batch_norm", inputs, {y},
                   [xd, neg_mean, invstd, a, axes, m, has_weight, has_bias, param_shape](const std::vector<Tensor>& g) {
                     const Tensor& dy = g[0];
                     const double inv_m = 1.0 / static_cast<double>(m);
                     Tensor sum_dy = sum(dy, axes, true);
                     // dweight = (sum(dy * x) - mean * sum(dy)) * invstd
                     Tensor sum_dy_xhat = mul(mul_add(neg_mean, sum_dy, sum(mul(dy, xd), axes, true)), invstd);
                     Tensor b = mul(sum_dy_xhat, mul(mul(a, invstd), -inv_m));   // -a * invstd * dweight / M
                     Tensor cc = mul_add(b, neg_mean, mul(mul(a, -inv_m), sum_dy));  // -a * dbias / M - b * mean
                     Tensor dx = mul_add(dy, a, mul_add(xd, b, cc));
                     std::vector<Tensor> grads{dx};
                     if (has_weight) grads.push_back(sum_dy_xhat.reshape(param_shape));
                     if (has_bias) grads.push_back(sum_dy.reshape(param_shape));
                     return grads;
                   });
  return y;
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias, double eps) {
  int64_t k = normalized_shape.size();
  KILN_CHECK(x.dim() >= k, ShapeError, "layer_norm: input ", x.shape(), " has fewer axes than normalized shape ",
             normalized_shape);
  for (int64_t i = 0; i < k; ++i)
    KILN_CHECK(x.shape()[x.dim() - k + i] == normalized_shape[i], ShapeError, "layer_norm: expected input [..., ",
               normalized_shape.str().substr(1), ", got shape ", x.shape());
  std::vector<int64_t> axes;
  for (int64_t i = x.dim() - k; i < x.dim(); ++i) axes.push_back(i);
  Tensor m = mean(x, axes, true);
  Tensor v = var(x, axes, 0.0, true);
  Tensor y = mul(sub(x, m), rsqrt(add(v, eps)));
  if (weight.defined()) y = mul(y, weight);
  if (bias.defined()) y = add(y, bias);
  return y;
}

Tensor pad2d(const Tensor& x, int64_t left, int64_t right, int64_t top, int64_t bottom, double value) {
  KILN_CHECK(x.dim() >= 2, ShapeError, "pad2d: expected at least 2 axes, got shape ", x.shape());
  KILN_CHECK(left >= 0 && right >= 0 && top >= 0 && bottom >= 0, ValueError, "pad2d: padding must be non-negative");
  Shape s = x.shape();
  int64_t h = s[s.size() - 2], w = s[s.size() - 1];
  s[s.size() - 2] = h + top + bottom;
  s[s.size() - 1] = w + left + right;
  Tensor out = full(s, value, {.dtype = x.dtype(), .device = x.device()});
  out.slice(-2, top, top + h).slice(-1, left, left + w).copy_(x.detach());
  if (autograd::needs_grad({x})) {
    autograd::record("pad2d", {x}, {out}, [top, left, h, w](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{g[0].slice(-2, top, top + h).slice(-1, left, left + w)};
    });
  }
  return out;
}

Reduction reduction_from_name(const std::string& name) {
  if (name == "none") return Reduction::None;
  if (name == "mean") return Reduction::Mean;
  if (name == "sum") return Reduction::Sum;
  throw ValueError("unknown reduction '" + name + "': expected none, mean or sum");
}

namespace {
Tensor reduce(const Tensor& loss, Reduction r) {
  switch (r) {
    case Reduction::None: return loss;
    case Reduction::Sum: return sum(loss);
    case Reduction::Mean: return mean(loss);
  }
  return loss;
}

// [N, C, d...] -> [N*d..., C]; target [N, d...] -> [N*d...].
std::pair<Tensor, Tensor> flatten_classes(const Tensor& input, const Tensor& target) {
  if (input.dim() <= 2) return {input, target};
  int64_t c = input.shape()[1];
  std::vector<int64_t> perm{0};
  for (int64_t i = 2; i < input.dim(); ++i) perm.push_back(i);
  perm.push_back(1);
  return {input.permute(perm).reshape({-1, c}), target.reshape({-1})};
}

void check_targets(const char* op, const Tensor& input, const Tensor& target) {
  KILN_CHECK(input.dim() >= 1, ShapeError, op, ": expected input [N, C] or [N, C, d...], got shape ", input.shape());
  Shape expected;
  if (input.dim() >= 2) {
    expected.push_back(input.shape()[0]);
    for (int64_t i = 2; i < input.dim(); ++i) expected.push_back(input.shape()[i]);
  }
  KILN_CHECK(target.shape() == expected, ShapeError, op, ": input of shape ", input.shape(),
             " needs class-index targets of shape ", expected, ", got ", target.shape());
}
}  // namespace

Tensor nll_loss(const Tensor& input_in, const Tensor& target_in, const NLLOptions& o) {
  KILN_CHECK(is_integral(target_in.dtype()), DTypeError, "nll_loss: expected integer class indices, got ",
             dtype_name(target_in.dtype()));
  Tensor in1 = input_in.dim() == 1 ? input_in.unsqueeze(0) : input_in;
  Tensor t1 = input_in.dim() == 1 ? target_in.reshape({1}) : target_in;
  check_targets("nll_loss", in1, t1);
  auto [input, target] = flatten_classes(in1, t1.to(DType::Int64));
  int64_t c = input.shape()[1];
  Tensor valid = ne(target, full({}, static_cast<double>(o.ignore_index), {.dtype = DType::Int64, .device = target.device()}));
  Tensor safe = where(valid, target, zeros_like(target));
  if (target.device().is_host()) {
    Tensor c_t = full({}, static_cast<double>(c), {.dtype = DType::Int64, .device = safe.device()});
    Tensor bad = mul(valid.to(DType::Int64), add(lt(safe, 0.0).to(DType::Int64), ge(safe, c_t).to(DType::Int64)));
    KILN_CHECK(sum(bad).item<int64_t>() == 0, IndexError, "nll_loss: a target class index is outside [0, ", c,
               ") (and is not ignore_index ", o.ignore_index, ")");
  }
  Tensor picked = gather(input, 1, safe.unsqueeze(1)).squeeze(1);
  Tensor w = valid.to(input.dtype());
  if (o.weight.defined()) {
    KILN_CHECK(o.weight.dim() == 1 && o.weight.shape()[0] == c, ShapeError, "nll_loss: expected weight [", c,
               "], got shape ", o.weight.shape());
    w = mul(w, index_select(o.weight.to(input.dtype()), 0, safe));
  }
  Tensor loss = neg(mul(picked, w));
  if (o.reduction == Reduction::Mean) return div(sum(loss), sum(w));
  if (o.reduction == Reduction::Sum) return sum(loss);
  return input_in.dim() <= 2 ? loss.reshape(t1.shape()) : loss.reshape(target_in.shape());
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& o) {
  KILN_CHECK(input.dim() >= 1, ShapeError, "cross_entropy: expected logits [N, C], got shape ", input.shape());
  int64_t class_axis = input.dim() == 1 ? 0 : 1;
  int64_t c = input.shape()[class_axis];
  Tensor logp = log_softmax(input, class_axis);
  double eps = o.label_smoothing;
  KILN_CHECK(eps >= 0 && eps <= 1, ValueError, "cross_entropy: label_smoothing must be in [0, 1], got ", eps);
  if (is_floating(target.dtype())) {
    KILN_CHECK(target.shape() == input.shape(), ShapeError, "cross_entropy: probability targets must match input shape ",
               input.shape(), ", got ", target.shape());
    Tensor t = eps > 0 ? add(mul(target, 1.0 - eps), eps / static_cast<double>(c)) : target;
    Tensor prod_t = mul(logp, t);
    if (o.weight.defined()) {
      Shape ws;
      ws.resize(input.dim(), 1);
      ws[class_axis] = c;
      prod_t = mul(prod_t, o.weight.reshape(ws));
    }
    Tensor loss = neg(sum(prod_t, {class_axis}));
    if (o.reduction == Reduction::Mean) return mul(sum(loss), 1.0 / static_cast<double>(loss.numel() ? loss.numel() : 1));
    return reduce(loss, o.reduction);
  }
  NLLOptions nll{o.weight, o.ignore_index, o.reduction};
  Tensor main = nll_loss(logp, target, nll);
  if (eps == 0) return main;
  // smoothing term: -sum_c w_c logp_c, averaged like the main term
  Tensor lp = logp;
  if (o.weight.defined()) {
    Shape ws;
    ws.resize(input.dim(), 1);
    ws[class_axis] = c;
    lp = mul(lp, o.weight.reshape(ws));
  }
  Tensor smooth = neg(sum(lp, {class_axis}));
  Tensor valid = ne(target.to(DType::Int64), full({}, static_cast<double>(o.ignore_index), {.dtype = DType::Int64, .device = target.device()}));
  smooth = mul(smooth, valid.to(smooth.dtype()).reshape(smooth.shape()));
  Tensor smooth_red;
  if (o.reduction == Reduction::Mean) {
    Tensor denom;
    if (o.weight.defined()) {
      Tensor safe = where(valid, target.to(DType::Int64), zeros_like(target.to(DType::Int64)));
      denom = sum(mul(index_select(o.weight.to(input.dtype()), 0, safe.reshape({-1})), valid.to(input.dtype()).reshape({-1})));
    } else {
      denom = sum(valid.to(input.dtype()));
    }
    smooth_red = div(sum(smooth), denom);
  } else {
    smooth_red = reduce(smooth, o.reduction);
  }
  return add(mul(main, 1.0 - eps), mul(smooth_red, eps / static_cast<double>(c)));
}

namespace {
void check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  KILN_CHECK(a.shape() == b.shape(), ShapeError, op, ": input shape ", a.shape(), " and target shape ", b.shape(),
             " differ");
}
}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction r) {
  check_same_shape("mse_loss", input, target);
  Tensor d = sub(input, target);
  return reduce(mul(d, d), r);
}
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction r) {
  check_same_shape("l1_loss", input, target);
  return reduce(abs(sub(input, target)), r);
}
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction r, double beta) {
  check_same_shape("smooth_l1_loss", input, target);
  Tensor d = abs(sub(input, target));
  if (beta == 0) return reduce(d, r);
  Tensor quad = mul(mul(d, d), 0.5 / beta);
  Tensor lin = add(d, -0.5 * beta);
  return reduce(where(lt(d, beta), quad, lin), r);
}
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, Reduction r) {
  check_same_shape("binary_cross_entropy", input, target);
  Tensor logx = clamp(log(input), -100.0, std::nullopt);
  Tensor log1mx = clamp(log(add(neg(input), 1.0)), -100.0, std::nullopt);
  Tensor loss = neg(add(mul(target, logx), mul(add(neg(target), 1.0), log1mx)));
  if (weight.defined()) loss = mul(loss, weight);
  return reduce(loss, r);
}
Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& y, const Tensor& weight, const Tensor& pos_weight,
                                        Reduction r) {
  check_same_shape("binary_cross_entropy_with_logits", x, y);
  // -log sigmoid(x) = log(e^0 + e^-x), as a logsumexp: stable for large |x| and, unlike
  // log(1 + e^-|x|) + max(-x, 0), differentiable at x = 0 (the kinks of abs and relu there gave
  // a gradient of 1 - y instead of sigmoid(0) - y = 0.5 - y).
  Tensor log_sig_neg = logsumexp(stack({zeros_like(x.detach()), neg(x)}, -1), {-1});
  Tensor loss;
  if (pos_weight.defined()) {
    Tensor lw = add(mul(sub(pos_weight, ones_like(pos_weight.detach())), y), 1.0);
    loss = add(mul(add(neg(y), 1.0), x), mul(lw, log_sig_neg));
  } else {
    loss = add(mul(add(neg(y), 1.0), x), log_sig_neg);
  }
  if (weight.defined()) loss = mul(loss, weight);
  return reduce(loss, r);
}

}  // namespace kiln::nn::functional
