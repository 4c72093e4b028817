// Unary and scalar-unary pointwise ops (binary ones are in binary.cpp).
#include "map.hpp"
#include "math.hpp"
#include "ops.hpp"

namespace kiln::tbbk {
namespace {

template <class T>
T neg_t(T x) {
  return wrap_sub(T{0}, x);
}
template <class T>
T abs_t(T x) {
  if constexpr (std::is_unsigned_v<T>) return x;
  else if constexpr (is_int_v<T>) return x < 0 ? neg_t(x) : x;
  else return std::fabs(x);
}
template <class T>
T sign_t(T x) {
  if constexpr (is_float_v<T>) {
    if (x != x) return x;  // NaN stays NaN
  }
  return static_cast<T>((T{0} < x) - (x < T{0}));
}

template <class T>
void unary_typed(kiln_op op, const kiln_tensor_desc& x, const kiln_tensor_desc& out) {
  const int64_t cheap = kGrainCheap, costly = kGrainCostly;
  auto go = [&](int64_t grain, auto f) { map1<T, T>(out, x, grain, f); };
  switch (op) {
    case KILN_OP_NEG: return go(cheap, [](T v) { return neg_t(v); });
    case KILN_OP_ABS: return go(cheap, [](T v) { return abs_t(v); });
    case KILN_OP_SIGN: return go(cheap, [](T v) { return sign_t(v); });
    case KILN_OP_FLOOR:
      if constexpr (is_float_v<T>) return go(cheap, [](T v) { return std::floor(v); });
      else return go(cheap, [](T v) { return v; });
    case KILN_OP_RELU:  // NaN propagates, as max(x, 0) does in PyTorch
      return go(cheap, [](T v) { return v < T{0} ? T{0} : v; });
    default: break;
  }
  if constexpr (is_float_v<T>) {
    switch (op) {
      case KILN_OP_EXP: return go(costly, [](T v) { return exp_t(v); });
      case KILN_OP_LOG: return go(costly, [](T v) { return std::log(v); });
      case KILN_OP_SQRT: return go(cheap, [](T v) { return std::sqrt(v); });
      case KILN_OP_RSQRT: return go(cheap, [](T v) { return T(1) / std::sqrt(v); });
      case KILN_OP_SIN: return go(costly, [](T v) { return std::sin(v); });
      case KILN_OP_COS: return go(costly, [](T v) { return std::cos(v); });
      case KILN_OP_SIGMOID: return go(costly, [](T v) { return sigmoid_t(v); });
      case KILN_OP_TANH: return go(costly, [](T v) { return std::tanh(v); });
      case KILN_OP_GELU: return go(costly, [](T v) { return gelu_t(v); });
      case KILN_OP_ERF: return go(costly, [](T v) { return std::erf(v); });
      default: break;
    }
  }
  fail(KILN_STATUS_UNSUPPORTED, "tbb: ", op_name(op), " is not supported for this dtype");
}

template <class T>
void scalar_typed(kiln_op op, const kiln_tensor_desc& x, const kiln_tensor_desc& out, const kiln_scalar_attrs& s) {
  // Integer dtypes convert the scalars first (the conversion rule: clamp, truncate, NaN -> 0).
  const T a = convert<T>(s.a), b = convert<T>(s.b);
  auto go = [&](int64_t grain, auto f) { map1<T, T>(out, x, grain, f); };
  switch (op) {
    case KILN_OP_ADD_SCALAR: return go(kGrainCheap, [a](T v) { return wrap_add(v, a); });
    case KILN_OP_MUL_SCALAR: return go(kGrainCheap, [a](T v) { return wrap_mul(v, a); });
    case KILN_OP_CLAMP:
      if constexpr (is_float_v<T>) {  // a NaN bound makes every element NaN
        if (a != a || b != b) return go(kGrainCheap, [](T) { return std::numeric_limits<T>::quiet_NaN(); });
      }
      return go(kGrainCheap, [a, b](T v) {
        T r = v < a ? a : v;
        return r > b ? b : r;
      });
    case KILN_OP_LEAKY_RELU: return go(kGrainCheap, [a](T v) { return v > T{0} ? v : wrap_mul(a, v); });
    case KILN_OP_POW_SCALAR:
      if constexpr (is_float_v<T>) return go(kGrainCostly, [a](T v) { return std::pow(v, a); });
      break;
    default: break;
  }
  fail(KILN_STATUS_UNSUPPORTED, "tbb: ", op_name(op), " is not supported for this dtype");
}

}  // namespace

void launch_unary(kiln_op op, const kiln_tensor_desc& x, const kiln_tensor_desc& out) {
  if (op == KILN_OP_LOGICAL_NOT) {
    dispatch_all(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      map1<Bool8, T>(out, x, kGrainCheap, [](T v) { return Bool8{static_cast<uint8_t>(truthy(v) ? 0 : 1)}; });
    });
    return;
  }
  dispatch_numeric(x.dtype, [&](auto tag) { unary_typed<decltype(tag)>(op, x, out); });
}

void launch_scalar_unary(kiln_op op, const kiln_tensor_desc& x, const kiln_tensor_desc& out,
                         const kiln_scalar_attrs& attrs) {
  dispatch_numeric(x.dtype, [&](auto tag) { scalar_typed<decltype(tag)>(op, x, out, attrs); });
}

}  // namespace kiln::tbbk
