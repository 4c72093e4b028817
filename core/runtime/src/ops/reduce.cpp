// Reductions and their gradients.
#include <algorithm>
#include <cmath>

#include "ops/common.hpp"

namespace kiln {

using autograd::needs_grad;
using autograd::record;
using G = std::vector<Tensor>;

namespace {

struct Plan {
  Tensor input;            // at least 1-D
  std::vector<int64_t> axes;  // sorted, unique
  Shape keep_shape;        // output with reduced axes kept as 1
  Shape out_shape;         // final output shape
  int64_t count = 1;       // elements per output
};

Plan plan(const char* op, const Tensor& x, const std::vector<int64_t>& axes_in, bool keepdim) {
  Plan p;
  p.input = x.dim() == 0 ? x.reshape({1}) : x;
  int64_t n = p.input.dim();
  if (axes_in.empty()) {
    for (int64_t i = 0; i < n; ++i) p.axes.push_back(i);
  } else {
    for (auto a : axes_in) {
      int64_t w = wrap_axis(a, x.dim(), op);
      KILN_CHECK(std::find(p.axes.begin(), p.axes.end(), w) == p.axes.end(), ValueError, op, ": axis ", a,
                 " appears twice");
      p.axes.push_back(w);
    }
    std::sort(p.axes.begin(), p.axes.end());
  }
  p.keep_shape = p.input.shape();
  for (auto a : p.axes) {
    p.count *= p.keep_shape[a];
    p.keep_shape[a] = 1;
  }
  if (keepdim && x.dim() > 0) {
    p.out_shape = p.keep_shape;
  } else if (x.dim() > 0) {
    for (int64_t i = 0; i < n; ++i)
      if (std::find(p.axes.begin(), p.axes.end(), i) == p.axes.end()) p.out_shape.push_back(p.input.shape()[i]);
  }
  return p;
}

Tensor run_reduce(kiln_op op, const Plan& p, DType out_dtype, double correction = 0.0) {
  kiln_reduce_attrs attrs = kiln_reduce_attrs_init();
  attrs.num_axes = static_cast<int32_t>(p.axes.size());
  for (size_t i = 0; i < p.axes.size(); ++i) attrs.axes[i] = static_cast<int32_t>(p.axes[i]);
  attrs.correction = correction;
  Tensor out = detail::make_tensor(p.keep_shape, out_dtype, p.input.device());
  detail::run(op, p.input.device(), {p.input.detach()}, {out}, &attrs);
  return out;
}

Tensor finish(const Tensor& keep, const Plan& p) { return keep.reshape(p.out_shape); }

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  detail::check_defined("sum", {x});
  Tensor in = is_floating(x.dtype()) ? x : x.to(DType::Int64);
  Plan p = plan("sum", in, axes, keepdim);
  Tensor out = finish(run_reduce(KILN_OP_SUM, p, in.dtype()), p);
  if (needs_grad({in})) {
    // p.input, not in: a 0-d input is reduced as [1] (the engine sums the gradient back to []).
    Shape keep = p.keep_shape, shape = p.input.shape();
    record("sum", {in}, {out}, [keep, shape](const G& g) { return G{g[0].reshape(keep).expand(shape)}; });
  }
  autograd::check_anomaly("sum", {out});
  return out;
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  detail::check_defined("mean", {x});
  detail::check_floating("mean", x);
  Plan p = plan("mean", x, axes, keepdim);
  Tensor out = finish(run_reduce(KILN_OP_MEAN, p, x.dtype()), p);
  if (needs_grad({x})) {
    Shape keep = p.keep_shape, shape = p.input.shape();  // [1] for a 0-d x, as in sum
    double n = static_cast<double>(p.count);
    record("mean", {x}, {out},
           [keep, shape, n](const G& g) { return G{mul(g[0].reshape(keep), 1.0 / n).expand(shape)}; });
  }
  autograd::check_anomaly("mean", {out});
  return out;
}

Tensor prod(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  detail::check_defined("prod", {x});
  Tensor in = is_floating(x.dtype()) ? x : x.to(DType::Int64);
  Plan p = plan("prod", in, axes, keepdim);
  Tensor keep_out = run_reduce(KILN_OP_PROD, p, in.dtype());
  Tensor out = finish(keep_out, p);
  if (needs_grad({in})) {
    Tensor xd = in.detach(), od = keep_out.detach();
    Shape keep = p.keep_shape;
    record("prod", {in}, {out}, [xd, od, keep](const G& g) { return G{div(mul(g[0].reshape(keep), od), xd)}; });
  }
  return out;
}

namespace {
Tensor extreme(kiln_op op, const char* name, const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  detail::check_defined(name, {x});
  KILN_CHECK(x.numel() > 0, ValueError, name, ": cannot reduce an empty tensor of shape ", x.shape(),
             " (there is no identity for max/min)");
  Plan p = plan(name, x, axes, keepdim);
  for (auto a : p.axes)
    KILN_CHECK(p.input.shape()[a] > 0, ValueError, name, ": reduced axis ", a, " of shape ", x.shape(), " is empty");
  Tensor keep_out = run_reduce(op, p, x.dtype());
  Tensor out = finish(keep_out, p);
  if (needs_grad({x})) {
    Tensor xd = x.detach(), od = keep_out.detach();
    Shape keep = p.keep_shape;
    std::vector<int64_t> ax = p.axes;
    record(name, {x}, {out}, [xd, od, keep, ax](const G& g) {
      // ties share the gradient equally (as PyTorch's amax/amin)
      Tensor mask = eq(xd, od).to(g[0].dtype());
      Tensor count = sum(mask, ax, true);
      return G{div(mul(mask, g[0].reshape(keep)), count)};
    });
  }
  return out;
}
}  // namespace

Tensor amax(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  return extreme(KILN_OP_MAX, "amax", x, axes, keepdim);
}
Tensor amin(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  return extreme(KILN_OP_MIN, "amin", x, axes, keepdim);
}

Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  detail::check_defined("logsumexp", {x});
  detail::check_floating("logsumexp", x);
  Plan p = plan("logsumexp", x, axes, keepdim);
  Tensor keep_out = run_reduce(KILN_OP_LOGSUMEXP, p, x.dtype());
  Tensor out = finish(keep_out, p);
  if (needs_grad({x})) {
    Tensor xd = x.detach(), od = keep_out.detach();
    Shape keep = p.keep_shape;
    record("logsumexp", {x}, {out}, [xd, od, keep](const G& g) { return G{mul(g[0].reshape(keep), exp(sub(xd, od)))}; });
  }
  return out;
}

Tensor var(const Tensor& x, const std::vector<int64_t>& axes, double correction, bool keepdim) {
  detail::check_defined("var", {x});
  detail::check_floating("var", x);
  Plan p = plan("var", x, axes, keepdim);
  Tensor out = finish(run_reduce(KILN_OP_VAR, p, x.dtype(), correction), p);
  if (needs_grad({x})) {
    Tensor xd = x.detach();
    Shape keep = p.keep_shape;
    std::vector<int64_t> ax = p.axes;
    double denom = static_cast<double>(p.count) - correction;
    record("var", {x}, {out}, [xd, keep, ax, denom](const G& g) {
      Tensor centered = sub(xd, mean(xd, ax, true));
      return G{mul(mul(g[0].reshape(keep), centered), 2.0 / denom)};
    });
  }
  return out;
}

Tensor std(const Tensor& x, const std::vector<int64_t>& axes, double correction, bool keepdim) {
  return sqrt(var(x, axes, correction, keepdim));
}

namespace {
Tensor arg_extreme(kiln_op op, const char* name, const Tensor& x, std::optional<int64_t> axis, bool keepdim) {
  detail::check_defined(name, {x});
  Tensor in = x;
  int64_t a = 0;
  if (!axis) {
    in = x.reshape({-1});
    keepdim = false;
  } else {
    a = wrap_axis(*axis, x.dim(), name);
    if (x.dim() == 0) in = x.reshape({1});
  }
  KILN_CHECK(in.numel() > 0 && in.shape()[a] > 0, ValueError, name, ": cannot reduce an empty axis (shape ",
             x.shape(), ")");
  Plan p = plan(name, in, {a}, keepdim);
  Tensor out = finish(run_reduce(op, p, DType::Int64), p);
  if (!axis || x.dim() == 0) out = out.reshape({});
  return out;
}
}  // namespace

Tensor argmax(const Tensor& x, std::optional<int64_t> axis, bool keepdim) {
  return arg_extreme(KILN_OP_ARGMAX, "argmax", x, axis, keepdim);
}
Tensor argmin(const Tensor& x, std::optional<int64_t> axis, bool keepdim) {
  return arg_extreme(KILN_OP_ARGMIN, "argmin", x, axis, keepdim);
}

}  // namespace kiln
