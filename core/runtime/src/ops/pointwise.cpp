// Elementwise ops and their gradients.
#include <cmath>
#include <limits>

#include "ops/common.hpp"

namespace kiln {

using autograd::needs_grad;
using autograd::record;
using detail::as_dtype;
using G = std::vector<Tensor>;

namespace {

Tensor unary(kiln_op op, const Tensor& x, autograd::BackwardFn (*make_backward)(const Tensor& x, const Tensor& y),
             const void* attrs = nullptr, bool float_only = true) {
  const char* name = detail::op_name(op);
  detail::check_defined(name, {x});
  Tensor in = x;
  if (float_only && !is_floating(x.dtype())) in = x.detach().to(DType::Float32);
  Tensor y = detail::run_unary_op(op, in.detach(), in.dtype(), attrs);
  if (make_backward && needs_grad({x})) record(name, {x}, {y}, make_backward(x.detach(), y.detach()));
  autograd::check_anomaly(name, {y});
  return y;
}

// Binary op on broadcast, promoted inputs. out_bool for comparisons.
Tensor binary(kiln_op op, const Tensor& a, const Tensor& b, bool out_bool = false, bool float_result = false) {
  const char* name = detail::op_name(op);
  detail::check_defined(name, {a, b});
  detail::check_same_device(name, {a, b});
  DType t = promote_types(a.dtype(), b.dtype());
  if (float_result && !is_floating(t)) t = DType::Float32;
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor x = as_dtype(a.detach(), t).expand(shape);
  Tensor y = as_dtype(b.detach(), t).expand(shape);
  Tensor out = detail::make_tensor(shape, out_bool ? DType::Bool : t, a.device());
  detail::run(op, a.device(), {x, y}, {out});
  return out;
}

Tensor mask_of(const Tensor& m, DType d) { return m.to(d); }

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary(KILN_OP_ADD, a, b);
  if (needs_grad({a, b})) record("add", {a, b}, {out}, [](const G& g) { return G{g[0], g[0]}; });
  autograd::check_anomaly("add", {out});
  return out;
}
Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary(KILN_OP_SUB, a, b);
  if (needs_grad({a, b})) record("sub", {a, b}, {out}, [](const G& g) { return G{g[0], neg(g[0])}; });
  autograd::check_anomaly("sub", {out});
  return out;
}
Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary(KILN_OP_MUL, a, b);
  if (needs_grad({a, b})) {
    Tensor ad = a.detach(), bd = b.detach();
    bool ga = a.requires_grad(), gb = b.requires_grad();
    record("mul", {a, b}, {out},
           [ad, bd, ga, gb](const G& g) { return G{ga ? mul(g[0], bd) : Tensor(), gb ? mul(g[0], ad) : Tensor()}; });
  }
  autograd::check_anomaly("mul", {out});
  return out;
}
Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary(KILN_OP_DIV, a, b, false, /*float_result=*/true);
  if (needs_grad({a, b})) {
    Tensor ad = a.detach(), bd = b.detach();
    bool gb = b.requires_grad();
    record("div", {a, b}, {out}, [ad, bd, gb](const G& g) {
      Tensor ga = div(g[0], bd);
      return G{ga, gb ? neg(div(mul(ga, ad), bd)) : Tensor()};
    });
  }
  autograd::check_anomaly("div", {out});
  return out;
}
Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = binary(KILN_OP_POW, a, b, false, true);
  if (needs_grad({a, b})) {
    Tensor ad = a.detach(), bd = b.detach(), od = out.detach();
    bool gb = b.requires_grad();
    record("pow", {a, b}, {out}, [ad, bd, od, gb](const G& g) {
      Tensor ga = mul(g[0], mul(bd, pow(ad, sub(bd, ones_like(bd)))));
      Tensor gbv = gb ? mul(g[0], mul(od, log(ad))) : Tensor();
      return G{ga, gbv};
    });
  }
  autograd::check_anomaly("pow", {out});
  return out;
}
Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = binary(KILN_OP_MAXIMUM, a, b);
  if (needs_grad({a, b})) {
    Tensor ad = a.detach(), bd = b.detach();
    record("maximum", {a, b}, {out}, [ad, bd](const G& g) {
      DType d = g[0].dtype();
      Tensor half = mul(mask_of(eq(ad, bd), d), 0.5);
      return G{mul(g[0], add(mask_of(gt(ad, bd), d), half)), mul(g[0], add(mask_of(lt(ad, bd), d), half))};
    });
  }
  return out;
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor out = binary(KILN_OP_MINIMUM, a, b);
  if (needs_grad({a, b})) {
    Tensor ad = a.detach(), bd = b.detach();
    record("minimum", {a, b}, {out}, [ad, bd](const G& g) {
      DType d = g[0].dtype();
      Tensor half = mul(mask_of(eq(ad, bd), d), 0.5);
      return G{mul(g[0], add(mask_of(lt(ad, bd), d), half)), mul(g[0], add(mask_of(gt(ad, bd), d), half))};
    });
  }
  return out;
}

Tensor eq(const Tensor& a, const Tensor& b) { return binary(KILN_OP_EQ, a, b, true); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary(KILN_OP_NE, a, b, true); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary(KILN_OP_LT, a, b, true); }
Tensor le(const Tensor& a, const Tensor& b) { return binary(KILN_OP_LE, a, b, true); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary(KILN_OP_GT, a, b, true); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary(KILN_OP_GE, a, b, true); }
Tensor eq(const Tensor& a, double b) { return eq(a, full({}, b, {.dtype = a.dtype(), .device = a.device()})); }
Tensor gt(const Tensor& a, double b) { return gt(a, full({}, b, {.dtype = a.dtype(), .device = a.device()})); }
Tensor lt(const Tensor& a, double b) { return lt(a, full({}, b, {.dtype = a.dtype(), .device = a.device()})); }

namespace {
// Integer tensors meeting a non-integral scalar become float32 (PyTorch's rule).
Tensor scalar_operand(const Tensor& a, double b) {
  if (!is_floating(a.dtype()) && (b != std::floor(b) || a.dtype() == DType::Bool)) return a.to(DType::Float32);
  return a;
}
}  // namespace

Tensor add(const Tensor& a, double b) {
  detail::check_defined("add", {a});
  Tensor x = scalar_operand(a, b);
  kiln_scalar_attrs attrs{KILN_ATTRS_HEAD(kiln_scalar_attrs), b, 0};
  Tensor out = detail::run_unary_op(KILN_OP_ADD_SCALAR, x.detach(), x.dtype(), &attrs);
  if (needs_grad({x})) record("add_scalar", {x}, {out}, [](const G& g) { return G{g[0]}; });
  autograd::check_anomaly("add_scalar", {out});
  return out;
}
Tensor mul(const Tensor& a, double b) {
  detail::check_defined("mul", {a});
  Tensor x = scalar_operand(a, b);
  kiln_scalar_attrs attrs{KILN_ATTRS_HEAD(kiln_scalar_attrs), b, 0};
  Tensor out = detail::run_unary_op(KILN_OP_MUL_SCALAR, x.detach(), x.dtype(), &attrs);
  if (needs_grad({x})) record("mul_scalar", {x}, {out}, [b](const G& g) { return G{mul(g[0], b)}; });
  autograd::check_anomaly("mul_scalar", {out});
  return out;
}
Tensor pow(const Tensor& a, double p) {
  detail::check_defined("pow", {a});
  Tensor x = is_floating(a.dtype()) ? a : a.to(DType::Float32);
  kiln_scalar_attrs attrs{KILN_ATTRS_HEAD(kiln_scalar_attrs), p, 0};
  Tensor out = detail::run_unary_op(KILN_OP_POW_SCALAR, x.detach(), x.dtype(), &attrs);
  if (needs_grad({x})) {
    Tensor xd = x.detach();
    record("pow_scalar", {x}, {out}, [xd, p](const G& g) { return G{mul(g[0], mul(pow(xd, p - 1.0), p))}; });
  }
  autograd::check_anomaly("pow_scalar", {out});
  return out;
}

#define KILN_UNARY(fn, OP, float_only, backward_body)                                          \
  Tensor fn(const Tensor& x) {                                                                 \
    return unary(                                                                              \
        OP, x,                                                                                 \
        [](const Tensor& xd, const Tensor& yd) -> autograd::BackwardFn {                       \
          (void)xd;                                                                            \
          (void)yd;                                                                            \
          return [xd, yd](const G& g) -> G { (void)xd; (void)yd; backward_body };              \
        },                                                                                     \
        nullptr, float_only);                                                                  \
  }

KILN_UNARY(neg, KILN_OP_NEG, false, return G{neg(g[0])};)
KILN_UNARY(abs, KILN_OP_ABS, false, return G{mul(g[0], sign(xd))};)
KILN_UNARY(exp, KILN_OP_EXP, true, return G{mul(g[0], yd)};)
KILN_UNARY(log, KILN_OP_LOG, true, return G{div(g[0], xd)};)
KILN_UNARY(sqrt, KILN_OP_SQRT, true, return G{div(mul(g[0], 0.5), yd)};)
KILN_UNARY(rsqrt, KILN_OP_RSQRT, true, return G{mul(mul(g[0], pow(yd, 3.0)), -0.5)};)
KILN_UNARY(sin, KILN_OP_SIN, true, return G{mul(g[0], cos(xd))};)
KILN_UNARY(cos, KILN_OP_COS, true, return G{neg(mul(g[0], sin(xd)))};)
KILN_UNARY(relu, KILN_OP_RELU, false, {
  // One pass where the backend has RELU_BACKWARD (three: compare, cast, multiply, without it).
  if (is_floating(xd.dtype()) && g[0].dtype() == xd.dtype()) {
    Tensor dx = detail::make_tensor(xd.shape(), xd.dtype(), xd.device());
    if (detail::run_without_copy(KILN_OP_RELU_BACKWARD, xd.device(), {g[0], xd}, {dx})) return G{dx};
  }
  return G{mul(g[0], gt(xd, 0.0).to(g[0].dtype()))};
})
KILN_UNARY(sigmoid, KILN_OP_SIGMOID, true, return G{mul(g[0], mul(yd, add(neg(yd), 1.0)))};)
KILN_UNARY(tanh, KILN_OP_TANH, true, return G{mul(g[0], add(neg(mul(yd, yd)), 1.0))};)
KILN_UNARY(erf, KILN_OP_ERF, true,
           return G{mul(g[0], mul(exp(neg(mul(xd, xd))), 1.1283791670955126))};)
KILN_UNARY(gelu, KILN_OP_GELU, true, {
  Tensor dx = detail::make_tensor(xd.shape(), xd.dtype(), xd.device());
  detail::run(KILN_OP_GELU_BACKWARD, xd.device(), {as_dtype(g[0], xd.dtype()), xd}, {dx});
  return G{dx};
})
#undef KILN_UNARY

Tensor sign(const Tensor& x) { return unary(KILN_OP_SIGN, x, nullptr, nullptr, false); }
Tensor floor(const Tensor& x) { return unary(KILN_OP_FLOOR, x, nullptr, nullptr, false); }
Tensor logical_not(const Tensor& x) {
  detail::check_defined("logical_not", {x});
  return detail::run_unary_op(KILN_OP_LOGICAL_NOT, x.detach(), DType::Bool);
}

Tensor silu(const Tensor& x) { return mul(x, sigmoid(x)); }
Tensor square(const Tensor& x) { return mul(x, x); }
Tensor reciprocal(const Tensor& x) { return div(ones_like(x.detach()).to(is_floating(x.dtype()) ? x.dtype() : DType::Float32), x); }

Tensor leaky_relu(const Tensor& x, double slope) {
  detail::check_defined("leaky_relu", {x});
  kiln_scalar_attrs attrs{KILN_ATTRS_HEAD(kiln_scalar_attrs), slope, 0};
  Tensor y = detail::run_unary_op(KILN_OP_LEAKY_RELU, x.detach(), x.dtype(), &attrs);
  if (needs_grad({x})) {
    Tensor xd = x.detach();
    record("leaky_relu", {x}, {y}, [xd, slope](const G& g) {
      Tensor pos = gt(xd, 0.0).to(g[0].dtype());
      return G{mul(g[0], add(mul(pos, 1.0 - slope), slope))};
    });
  }
  autograd::check_anomaly("leaky_relu", {y});
  return y;
}

Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  detail::check_defined("clamp", {x});
  const double inf = std::numeric_limits<double>::infinity();
  double a = lo.value_or(-inf), b = hi.value_or(inf);
  KILN_CHECK(!(a > b), ValueError, "clamp: min ", a, " is greater than max ", b);
  Tensor in = x;
  if (!is_floating(x.dtype()) && ((lo && *lo != std::floor(*lo)) || (hi && *hi != std::floor(*hi))))
    in = x.to(DType::Float32);
  kiln_scalar_attrs attrs{KILN_ATTRS_HEAD(kiln_scalar_attrs), a, b};
  Tensor y = detail::run_unary_op(KILN_OP_CLAMP, in.detach(), in.dtype(), &attrs);
  if (needs_grad({in})) {
    Tensor xd = in.detach();
    record("clamp", {in}, {y}, [xd, a, b](const G& g) {
      DType d = g[0].dtype();
      Tensor inside = mul(logical_not(lt(xd, a)).to(d), logical_not(gt(xd, b)).to(d));
      return G{mul(g[0], inside)};
    });
  }
  return y;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  detail::check_defined("where", {cond, a, b});
  detail::check_same_device("where", {cond, a, b});
  DType t = promote_types(a.dtype(), b.dtype());
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor c = as_dtype(cond.detach(), DType::Bool).expand(shape);
  Tensor out = detail::make_tensor(shape, t, a.device());
  detail::run(KILN_OP_WHERE, a.device(), {c, as_dtype(a.detach(), t).expand(shape), as_dtype(b.detach(), t).expand(shape)},
              {out});
  if (needs_grad({a, b})) {
    record("where", {a, b}, {out}, [c](const G& g) {
      Tensor z = zeros_like(g[0]);
      return G{where(c, g[0], z), where(c, z, g[0])};
    });
  }
  return out;
}

Tensor mul_add(const Tensor& x, const Tensor& y, const Tensor& z) {
  detail::check_defined("mul_add", {x, y, z});
  detail::check_same_device("mul_add", {x, y, z});
  DType t = promote_types(promote_types(x.dtype(), y.dtype()), z.dtype());
  Shape shape = broadcast_shapes(broadcast_shapes(x.shape(), y.shape(), "mul_add"), z.shape(), "mul_add");
  if (!is_floating(t)) return add(mul(x, y), z);  // MUL_ADD takes float dtypes only
  Tensor out = detail::make_tensor(shape, t, x.device());
  if (!detail::run_without_copy(KILN_OP_MUL_ADD, x.device(),
                                {as_dtype(x.detach(), t).expand(shape), as_dtype(y.detach(), t).expand(shape),
                                 as_dtype(z.detach(), t).expand(shape)},
                                {out}))
    return add(mul(x, y), z);  // no backend here has the fused op: two passes
  if (needs_grad({x, y, z})) {
    Tensor xd = x.detach(), yd = y.detach();
    record("mul_add", {x, y, z}, {out}, [xd, yd](const G& g) { return G{mul(g[0], yd), mul(g[0], xd), g[0]}; });
  }
  autograd::check_anomaly("mul_add", {out});
  return out;
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return add(a, -b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) {
  Tensor x = is_floating(a.dtype()) ? a : a.to(DType::Float32);
  return mul(x, 1.0 / b);
}
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return add(neg(b), a); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return mul(reciprocal(b), a); }
Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }

Tensor cast(const Tensor& x, DType dtype) { return x.to(dtype); }

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol, bool equal_nan) {
  if (a.shape() != b.shape()) return false;
  auto x = a.to_vector<double>();
  auto y = b.to_vector<double>();
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) || std::isnan(y[i])) {
      if (!(equal_nan && std::isnan(x[i]) && std::isnan(y[i]))) return false;
      continue;
    }
    if (x[i] == y[i]) continue;
    if (!(std::fabs(x[i] - y[i]) <= atol + rtol * std::fabs(y[i]))) return false;
  }
  return true;
}

bool equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && a.to_vector<double>() == b.to_vector<double>();
}

}  // namespace kiln
