// Pointwise ops: unary, unary with scalars, binary, comparisons, where. Floats are computed in double
// and rounded once to the output type.
#include <algorithm>
#include <cmath>
#include <limits>

#include "dtype.hpp"
#include "kernels.hpp"
#include "strided.hpp"

namespace kiln::ref {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kSqrt1_2 = 0.70710678118654752440;     // 1 / sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1 / sqrt(2 pi)

[[noreturn]] void not_in_family(kiln_op op) {
  fail(KILN_STATUS_INTERNAL, "ref: op ", kiln_op_name(op), " reached the wrong pointwise kernel");
}

// ---- floats ----
using FloatUnary = double (*)(double);
FloatUnary float_unary(kiln_op op) {
  switch (op) {
    case KILN_OP_NEG:
      return [](double x) { return -x; };
    case KILN_OP_ABS:
      return [](double x) { return std::fabs(x); };
    case KILN_OP_SIGN:
      return [](double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : std::isnan(x) ? x : 0.0; };
    case KILN_OP_EXP:
      return [](double x) { return std::exp(x); };
    case KILN_OP_LOG:
      return [](double x) { return std::log(x); };
    case KILN_OP_SQRT:
      return [](double x) { return std::sqrt(x); };
    case KILN_OP_RSQRT:
      return [](double x) { return 1.0 / std::sqrt(x); };
    case KILN_OP_SIN:
      return [](double x) { return std::sin(x); };
    case KILN_OP_COS:
      return [](double x) { return std::cos(x); };
    case KILN_OP_FLOOR:
      return [](double x) { return std::floor(x); };
    case KILN_OP_RELU:
      return [](double x) { return std::isnan(x) || x > 0 ? x : 0.0; };
    case KILN_OP_SIGMOID:
      return [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
    case KILN_OP_TANH:
      return [](double x) { return std::tanh(x); };
    case KILN_OP_GELU:
      return [](double x) { return 0.5 * x * (1.0 + std::erf(x * kSqrt1_2)); };
    case KILN_OP_ERF:
      return [](double x) { return std::erf(x); };
    default:
      not_in_family(op);
  }
}

using FloatScalar = double (*)(double x, double a, double b);
FloatScalar float_scalar(kiln_op op) {
  switch (op) {
    case KILN_OP_ADD_SCALAR:
      return [](double x, double a, double) { return x + a; };
    case KILN_OP_MUL_SCALAR:
      return [](double x, double a, double) { return x * a; };
    case KILN_OP_POW_SCALAR:
      return [](double x, double a, double) { return std::pow(x, a); };
    case KILN_OP_LEAKY_RELU:
      return [](double x, double a, double) { return x > 0 ? x : a * x; };
    case KILN_OP_CLAMP:  // NaN in x or in a bound propagates; -inf / +inf bounds are no bound
      return [](double x, double lo, double hi) {
        if (std::isnan(x) || std::isnan(lo) || std::isnan(hi)) return kNaN;
        return std::min(std::max(x, lo), hi);
      };
    default:
      not_in_family(op);
  }
}

using FloatBinary = double (*)(double, double);
FloatBinary float_binary(kiln_op op) {
  switch (op) {
    case KILN_OP_ADD:
      return [](double a, double b) { return a + b; };
    case KILN_OP_SUB:
      return [](double a, double b) { return a - b; };
    case KILN_OP_MUL:
      return [](double a, double b) { return a * b; };
    case KILN_OP_DIV:
      return [](double a, double b) { return a / b; };
    case KILN_OP_POW:
      return [](double a, double b) { return std::pow(a, b); };
    case KILN_OP_MAXIMUM:
      return [](double a, double b) { return std::isnan(a) || std::isnan(b) ? kNaN : std::max(a, b); };
    case KILN_OP_MINIMUM:
      return [](double a, double b) { return std::isnan(a) || std::isnan(b) ? kNaN : std::min(a, b); };
    case KILN_OP_RELU_BACKWARD:  // (dy, x): x > 0 ? dy : 0 (a NaN dy where x <= 0 gives 0)
      return [](double dy, double x) { return x > 0 ? dy : 0.0; };
    case KILN_OP_GELU_BACKWARD:  // (dy, x): dy * (Phi(x) + x * phi(x))
      return [](double dy, double x) {
        const double cdf = 0.5 * (1.0 + std::erf(x * kSqrt1_2));
        const double pdf = kInvSqrt2Pi * std::exp(-0.5 * x * x);
        return dy * (cdf + x * pdf);
      };
    default:
      not_in_family(op);
  }
}

// ---- integers (int32, int64, uint8), wrapping like two's complement hardware ----
template <class T>
bool is_negative(T x) {
  if constexpr (std::is_signed_v<T>) {
    return x < T{0};
  } else {
    return false;
  }
}

template <class T>
using IntUnary = T (*)(T);
template <class T>
IntUnary<T> int_unary(kiln_op op) {
  switch (op) {
    case KILN_OP_NEG:
      return [](T x) { return wrap_neg(x); };
    case KILN_OP_ABS:
      return [](T x) { return is_negative(x) ? wrap_neg(x) : x; };
    case KILN_OP_SIGN:
      return [](T x) { return static_cast<T>(x > T{0} ? 1 : is_negative(x) ? -1 : 0); };
    case KILN_OP_FLOOR:
      return [](T x) { return x; };
    case KILN_OP_RELU:
      return [](T x) { return x > T{0} ? x : T{0}; };
    default:
      not_in_family(op);
  }
}

template <class T>
using IntBinary = T (*)(T, T);
template <class T>
IntBinary<T> int_binary(kiln_op op) {
  switch (op) {
    case KILN_OP_ADD:
      return [](T a, T b) { return wrap_add(a, b); };
    case KILN_OP_SUB:
      return [](T a, T b) { return wrap_sub(a, b); };
    case KILN_OP_MUL:
      return [](T a, T b) { return wrap_mul(a, b); };
    case KILN_OP_DIV:  // truncates toward zero; x / 0 is 0; INT_MIN / -1 wraps to INT_MIN
      return [](T a, T b) {
        if (b == T{0}) return T{0};
        if constexpr (std::is_signed_v<T>) {
          if (b == T{-1}) return wrap_neg(a);
        }
        return static_cast<T>(a / b);
      };
    case KILN_OP_MAXIMUM:
      return [](T a, T b) { return std::max(a, b); };
    case KILN_OP_MINIMUM:
      return [](T a, T b) { return std::min(a, b); };
    default:
      not_in_family(op);
  }
}

// What comparisons see: the number itself, or 0/1 for bool.
template <class T>
auto compare_value(T v) {
  if constexpr (std::is_same_v<T, Bool8>) {
    return static_cast<int>(truthy(v));
  } else {
    return v;
  }
}

}  // namespace

void run_unary(kiln_op op, const kiln_tensor_desc& x, const kiln_tensor_desc& out) {
  check_same_shape(kiln_op_name(op), "x", x, "out", out);
  if (op == KILN_OP_LOGICAL_NOT) {
    dispatch_all(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      map1<Bool8, T>(x, out, [](T v) { return Bool8{static_cast<uint8_t>(truthy(v) ? 0 : 1)}; });
    });
    return;
  }
  dispatch_numeric(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (is_float_v<T>) {
      const FloatUnary f = float_unary(op);
      map1<T, T>(x, out, [f](T v) { return convert<T>(f(v)); });
    } else {
      const IntUnary<T> f = int_unary<T>(op);
      map1<T, T>(x, out, f);
    }
  });
}

void run_scalar_unary(kiln_op op, const kiln_tensor_desc& x, const kiln_tensor_desc& out,
                      const kiln_scalar_attrs& attrs) {
  check_same_shape(kiln_op_name(op), "x", x, "out", out);
  dispatch_numeric(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (is_float_v<T>) {
      const FloatScalar f = float_scalar(op);
      const double a = attrs.a, b = attrs.b;
      map1<T, T>(x, out, [f, a, b](T v) { return convert<T>(f(v, a, b)); });
    } else {
      // Integer dtypes: the scalars are converted to the dtype first (clamped, truncated).
      const T a = convert<T>(attrs.a), b = convert<T>(attrs.b);
      switch (op) {
        case KILN_OP_ADD_SCALAR:
          map1<T, T>(x, out, [a](T v) { return wrap_add(v, a); });
          break;
        case KILN_OP_MUL_SCALAR:
          map1<T, T>(x, out, [a](T v) { return wrap_mul(v, a); });
          break;
        case KILN_OP_CLAMP:
          map1<T, T>(x, out, [a, b](T v) { return std::min(std::max(v, a), b); });
          break;
        case KILN_OP_LEAKY_RELU:
          map1<T, T>(x, out, [a](T v) { return v > T{0} ? v : wrap_mul(a, v); });
          break;
        default:
          not_in_family(op);
      }
    }
  });
}

void run_binary(kiln_op op, const kiln_tensor_desc& a, const kiln_tensor_desc& b,
                const kiln_tensor_desc& out) {
  check_same_shape(kiln_op_name(op), "a", a, "out", out);
  check_same_shape(kiln_op_name(op), "b", b, "out", out);
  dispatch_all(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (is_float_v<T>) {
      const FloatBinary f = float_binary(op);
      map2<T, T>(a, b, out, [f](T x, T y) { return convert<T>(f(x, y)); });
    } else if constexpr (is_int_v<T>) {
      map2<T, T>(a, b, out, int_binary<T>(op));
    } else {  // bool: maximum is or, minimum is and
      if (op != KILN_OP_MAXIMUM && op != KILN_OP_MINIMUM) not_in_family(op);
      const bool is_or = op == KILN_OP_MAXIMUM;
      map2<Bool8, Bool8>(a, b, out, [is_or](Bool8 x, Bool8 y) {
        const bool r = is_or ? (truthy(x) || truthy(y)) : (truthy(x) && truthy(y));
        return Bool8{static_cast<uint8_t>(r)};
      });
    }
  });
}

void run_compare(kiln_op op, const kiln_tensor_desc& a, const kiln_tensor_desc& b,
                 const kiln_tensor_desc& out) {
  check_same_shape(kiln_op_name(op), "a", a, "out", out);
  check_same_shape(kiln_op_name(op), "b", b, "out", out);
  dispatch_all(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    View<const T> av(a), bv(b);
    View<Bool8> ov(out);
    walk<3>(out.ndim, out.shape, {operand(a), operand(b), operand(out)},
            [&](const int64_t*, const auto& off) {
              const auto x = compare_value(av.at(off[0]));
              const auto y = compare_value(bv.at(off[1]));
              bool r = false;
              switch (op) {
                case KILN_OP_EQ:
                  r = x == y;
                  break;
                case KILN_OP_NE:
                  r = x != y;
                  break;
                case KILN_OP_LT:
                  r = x < y;
                  break;
                case KILN_OP_LE:
                  r = x <= y;
                  break;
                case KILN_OP_GT:
                  r = x > y;
                  break;
                case KILN_OP_GE:
                  r = x >= y;
                  break;
                default:
                  not_in_family(op);
              }
              ov.at(off[2]) = Bool8{static_cast<uint8_t>(r)};
            });
  });
}

void run_mul_add(const kiln_tensor_desc& x, const kiln_tensor_desc& y, const kiln_tensor_desc& z,
                 const kiln_tensor_desc& out) {
  check_same_shape("mul_add", "x", x, "out", out);
  check_same_shape("mul_add", "y", y, "out", out);
  check_same_shape("mul_add", "z", z, "out", out);
  dispatch_float(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    View<const T> xv(x), yv(y), zv(z);
    View<T> ov(out);
    walk<4>(out.ndim, out.shape, {operand(x), operand(y), operand(z), operand(out)},
            [&](const int64_t*, const auto& off) {
              const double r = static_cast<double>(xv.at(off[0])) * static_cast<double>(yv.at(off[1])) +
                               static_cast<double>(zv.at(off[2]));
              ov.at(off[3]) = convert<T>(r);
            });
  });
}

void run_where(const kiln_tensor_desc& cond, const kiln_tensor_desc& a, const kiln_tensor_desc& b,
               const kiln_tensor_desc& out) {
  check_same_shape("where", "cond", cond, "out", out);
  check_same_shape("where", "a", a, "out", out);
  check_same_shape("where", "b", b, "out", out);
  dispatch_all(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    View<const Bool8> cv(cond);
    View<const T> av(a), bv(b);
    View<T> ov(out);
    walk<4>(out.ndim, out.shape, {operand(cond), operand(a), operand(b), operand(out)},
            [&](const int64_t*, const auto& off) {
              ov.at(off[3]) = convert<T>(truthy(cv.at(off[0])) ? av.at(off[1]) : bv.at(off[2]));
            });
  });
}

}  // namespace kiln::ref
