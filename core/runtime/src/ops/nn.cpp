// Convolution, pooling and softmax with their gradients.
#include <cmath>

#include "ops/common.hpp"

namespace kiln {

using autograd::needs_grad;
using autograd::record;
using G = std::vector<Tensor>;

namespace {

kiln_conv2d_attrs conv_attrs(const Conv2dParams& p) {
  kiln_conv2d_attrs a = kiln_conv2d_attrs_init();
  for (int i = 0; i < 2; ++i) {
    a.stride[i] = p.stride[i];
    a.padding[i] = p.padding[i];
    a.dilation[i] = p.dilation[i];
  }
  a.groups = p.groups;
  return a;
}

int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t pad, int64_t d) {
  return (in + 2 * pad - d * (k - 1) - 1) / s + 1;
}

}  // namespace

Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Shape& input_shape,
                             const Conv2dParams& p) {
  kiln_conv2d_attrs a = conv_attrs(p);
  Tensor dx = detail::make_tensor(input_shape, grad_out.dtype(), grad_out.device());
  detail::run(KILN_OP_CONV2D_BACKWARD_INPUT, grad_out.device(), {grad_out.detach(), weight.detach()}, {dx}, &a);
  return dx;
}

Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Shape& weight_shape,
                              const Conv2dParams& p) {
  kiln_conv2d_attrs a = conv_attrs(p);
  Tensor dw = detail::make_tensor(weight_shape, grad_out.dtype(), grad_out.device());
  detail::run(KILN_OP_CONV2D_BACKWARD_WEIGHT, grad_out.device(), {grad_out.detach(), x.detach()}, {dw}, &a);
  return dw;
}

Tensor conv2d(const Tensor& x_in, const Tensor& weight, const Tensor& bias, const Conv2dParams& p) {
  detail::check_defined("conv2d", {x_in, weight});
  detail::check_same_device("conv2d", {x_in, weight, bias});
  detail::check_floating("conv2d", x_in);
  bool batched = x_in.dim() == 4;
  KILN_CHECK(x_in.dim() == 3 || x_in.dim() == 4, ShapeError,
             "conv2d: expected input [N, C, H, W] or [C, H, W], got shape ", x_in.shape());
  Tensor x = batched ? x_in : x_in.unsqueeze(0);
  KILN_CHECK(weight.dim() == 4, ShapeError, "conv2d: expected weight [O, C/groups, KH, KW], got shape ", weight.shape());
  KILN_CHECK(weight.dtype() == x.dtype(), DTypeError, "conv2d: input is ", dtype_name(x.dtype()), " but weight is ",
             dtype_name(weight.dtype()));
  KILN_CHECK(p.groups >= 1 && weight.shape()[0] % p.groups == 0, ShapeError, "conv2d: ", weight.shape()[0],
             " output channels are not divisible by groups=", p.groups);
  KILN_CHECK(x.shape()[1] == weight.shape()[1] * p.groups, ShapeError, "conv2d: input has ", x.shape()[1],
             " channels (shape ", x.shape(), ") but weight ", weight.shape(), " with groups=", p.groups, " expects ",
             weight.shape()[1] * p.groups);
  for (int i = 0; i < 2; ++i) {
    KILN_CHECK(p.stride[i] >= 1 && p.dilation[i] >= 1 && p.padding[i] >= 0, ValueError,
               "conv2d: stride and dilation must be >= 1 and padding >= 0");
  }
  int64_t oh = conv_out(x.shape()[2], weight.shape()[2], p.stride[0], p.padding[0], p.dilation[0]);
  int64_t ow = conv_out(x.shape()[3], weight.shape()[3], p.stride[1], p.padding[1], p.dilation[1]);
  KILN_CHECK(oh > 0 && ow > 0, ShapeError, "conv2d: input ", x.shape(), " is too small for kernel ",
             weight.shape()[2], "x", weight.shape()[3], " with padding ", p.padding[0], "x", p.padding[1],
             " and dilation ", p.dilation[0], "x", p.dilation[1]);
  kiln_conv2d_attrs a = conv_attrs(p);
  Tensor y = detail::make_tensor({x.shape()[0], weight.shape()[0], oh, ow}, x.dtype(), x.device());
  detail::run(KILN_OP_CONV2D, x.device(), {x.detach(), weight.detach()}, {y}, &a);
  if (needs_grad({x, weight})) {
    Tensor xd = x.detach(), wd = weight.detach();
    bool gx = x.requires_grad(), gw = weight.requires_grad();
    record("conv2d", {x, weight}, {y}, [xd, wd, p, gx, gw](const G& g) {
      Tensor go = g[0].contiguous();
      return G{gx ? conv2d_backward_input(go, wd, xd.shape(), p) : Tensor(),
               gw ? conv2d_backward_weight(go, xd, wd.shape(), p) : Tensor()};
    });
  }
  if (bias.defined()) {
    KILN_CHECK(bias.dim() == 1 && bias.shape()[0] == weight.shape()[0], ShapeError, "conv2d: expected bias [",
               weight.shape()[0], "], got shape ", bias.shape());
    y = add(y, bias.reshape({1, -1, 1, 1}));
  }
  autograd::check_anomaly("conv2d", {y});
  return batched ? y : y.squeeze(0);
}

namespace {

struct PoolPlan {
  Tensor x;
  bool batched;
  kiln_pool2d_attrs attrs = kiln_pool2d_attrs_init();
  Shape out_shape;
};

PoolPlan pool_plan(const char* op, const Tensor& x_in, const Pool2dParams& p, bool is_max) {
  detail::check_defined(op, {x_in});
  detail::check_floating(op, x_in);
  KILN_CHECK(x_in.dim() == 3 || x_in.dim() == 4, ShapeError, op, ": expected input [N, C, H, W] or [C, H, W], got shape ",
             x_in.shape());
  PoolPlan plan;
  plan.batched = x_in.dim() == 4;
  plan.x = plan.batched ? x_in : x_in.unsqueeze(0);
  Shape out = plan.x.shape();
  for (int i = 0; i < 2; ++i) {
    int64_t k = p.kernel[i], s = p.stride[i] ? p.stride[i] : k, pad = p.padding[i], d = is_max ? p.dilation[i] : 1;
    KILN_CHECK(k >= 1 && s >= 1 && d >= 1, ValueError, op, ": kernel, stride and dilation must be >= 1");
    KILN_CHECK(pad >= 0 && pad <= k / 2, ValueError, op, ": padding ", pad, " must be between 0 and half the kernel (",
               k, ")");
    int64_t in = plan.x.shape()[2 + i];
    int64_t span = in + 2 * pad - d * (k - 1) - 1;
    int64_t o;
    if (p.ceil_mode) {
      o = (span + s - 1) / s + 1;
      if ((o - 1) * s >= in + pad) --o;  // the last window must start inside the input or left padding
    } else {
      o = span / s + 1;
    }
    KILN_CHECK(span >= 0 && o > 0, ShapeError, op, ": input ", x_in.shape(), " is too small for kernel ", k,
               " with padding ", pad);
    out[2 + i] = o;
    plan.attrs.kernel[i] = k;
    plan.attrs.stride[i] = s;
    plan.attrs.padding[i] = pad;
    plan.attrs.dilation[i] = d;
  }
  plan.attrs.ceil_mode = p.ceil_mode;
  plan.attrs.count_include_pad = p.count_include_pad;
  plan.out_shape = out;
  return plan;
}

}  // namespace

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x_in, const Pool2dParams& p) {
  PoolPlan plan = pool_plan("max_pool2d", x_in, p, true);
  Tensor y = detail::make_tensor(plan.out_shape, plan.x.dtype(), plan.x.device());
  Tensor idx = detail::make_tensor(plan.out_shape, DType::Int64, plan.x.device());
  detail::run(KILN_OP_MAXPOOL2D, plan.x.device(), {plan.x.detach()}, {y, idx}, &plan.attrs);
  if (needs_grad({plan.x})) {
    Shape in_shape = plan.x.shape();
    kiln_pool2d_attrs attrs = plan.attrs;
    record("max_pool2d", {plan.x}, {y}, [idx, in_shape, attrs](const G& g) {
      Tensor dx = detail::make_tensor(in_shape, g[0].dtype(), g[0].device());
      detail::run(KILN_OP_MAXPOOL2D_BACKWARD, g[0].device(), {g[0], idx}, {dx}, &attrs);
      return G{dx};
    });
  }
  if (!plan.batched) return {y.squeeze(0), idx.squeeze(0)};
  return {y, idx};
}

Tensor max_pool2d(const Tensor& x, const Pool2dParams& p) { return max_pool2d_with_indices(x, p).first; }

Tensor avg_pool2d(const Tensor& x_in, const Pool2dParams& p) {
  PoolPlan plan = pool_plan("avg_pool2d", x_in, p, false);
  Tensor y = detail::make_tensor(plan.out_shape, plan.x.dtype(), plan.x.device());
  detail::run(KILN_OP_AVGPOOL2D, plan.x.device(), {plan.x.detach()}, {y}, &plan.attrs);
  if (needs_grad({plan.x})) {
    Shape in_shape = plan.x.shape();
    kiln_pool2d_attrs attrs = plan.attrs;
    record("avg_pool2d", {plan.x}, {y}, [in_shape, attrs](const G& g) {
      Tensor dx = detail::make_tensor(in_shape, g[0].dtype(), g[0].device());
      detail::run(KILN_OP_AVGPOOL2D_BACKWARD, g[0].device(), {g[0]}, {dx}, &attrs);
      return G{dx};
    });
  }
  return plan.batched ? y : y.squeeze(0);
}

Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> out) {
  detail::check_defined("adaptive_avg_pool2d", {x});
  KILN_CHECK(x.dim() == 3 || x.dim() == 4, ShapeError,
             "adaptive_avg_pool2d: expected input [N, C, H, W] or [C, H, W], got shape ", x.shape());
  KILN_CHECK(out[0] >= 1 && out[1] >= 1, ValueError, "adaptive_avg_pool2d: output size must be positive");
  int64_t h = x.shape()[x.dim() - 2], w = x.shape()[x.dim() - 1];
  if (h % out[0] == 0 && w % out[1] == 0) {
    Pool2dParams p;
    p.kernel = {h / out[0], w / out[1]};
    p.stride = p.kernel;
    return avg_pool2d(x, p);
  }
  // General case: PyTorch's windows [floor(i*H/oh), ceil((i+1)*H/oh)).
  std::vector<Tensor> rows;
  for (int64_t i = 0; i < out[0]; ++i) {
    int64_t h0 = i * h / out[0], h1 = ((i + 1) * h + out[0] - 1) / out[0];
    std::vector<Tensor> cells;
    for (int64_t j = 0; j < out[1]; ++j) {
      int64_t w0 = j * w / out[1], w1 = ((j + 1) * w + out[1] - 1) / out[1];
      cells.push_back(mean(x.slice(-2, h0, h1).slice(-1, w0, w1), {-2, -1}));
    }
    rows.push_back(stack(cells, -1));
  }
  return stack(rows, -2);
}

namespace {
Tensor softmax_impl(kiln_op op, kiln_op backward_op, const char* name, const Tensor& x, int64_t axis) {
  detail::check_defined(name, {x});
  Tensor in = is_floating(x.dtype()) ? x : x.to(DType::Float32);
  Tensor src = in.dim() == 0 ? in.reshape({1}) : in;
  kiln_axis_attrs attrs{KILN_ATTRS_HEAD(kiln_axis_attrs), static_cast<int32_t>(wrap_axis(axis, in.dim(), name))};
  Tensor y = detail::make_tensor(src.shape(), src.dtype(), src.device());
  detail::run(op, src.device(), {src.detach()}, {y}, &attrs);
  if (needs_grad({src})) {
    Tensor yd = y.detach();
    record(name, {src}, {y}, [yd, attrs, backward_op](const G& g) {
      Tensor dx = detail::make_tensor(yd.shape(), yd.dtype(), yd.device());
      detail::run(backward_op, yd.device(), {detail::as_dtype(g[0], yd.dtype()), yd}, {dx}, &attrs);
      return G{dx};
    });
  }
  autograd::check_anomaly(name, {y});
  return in.dim() == 0 ? y.reshape({}) : y;
}
}  // namespace

Tensor softmax(const Tensor& x, int64_t axis) {
  return softmax_impl(KILN_OP_SOFTMAX, KILN_OP_SOFTMAX_BACKWARD, "softmax", x, axis);
}
Tensor log_softmax(const Tensor& x, int64_t axis) {
  return softmax_impl(KILN_OP_LOG_SOFTMAX, KILN_OP_LOG_SOFTMAX_BACKWARD, "log_softmax", x, axis);
}

}  // namespace kiln
