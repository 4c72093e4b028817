// Binary pointwise ops, comparisons, where and mul_add.
#include "map.hpp"
#include "math.hpp"
#include "ops.hpp"

namespace kiln::tbbk {
namespace {

template <class T>
T div_t(T a, T b) {
  if constexpr (is_float_v<T>) {
    return a / b;
  } else {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<T>) {
      if (b == -1) return wrap_sub(T{0}, a);  // min / -1 wraps instead of trapping
    }
    return static_cast<T>(a / b);
  }
}

template <class T>
void binary_typed(kiln_op op, const kiln_tensor_desc& a, const kiln_tensor_desc& b, const kiln_tensor_desc& out) {
  auto go = [&](int64_t grain, auto f) { map2<T, T, T>(out, a, b, grain, f); };
  if constexpr (std::is_same_v<T, Bool8>) {
    switch (op) {  // on 0/1 bytes: maximum is or, minimum is and
      case KILN_OP_MAXIMUM: return go(kGrainCheap, [](T x, T y) { return T{static_cast<uint8_t>(x.v | y.v)}; });
      case KILN_OP_MINIMUM: return go(kGrainCheap, [](T x, T y) { return T{static_cast<uint8_t>(x.v & y.v)}; });
      default: break;
    }
  } else {
    switch (op) {
      case KILN_OP_ADD: return go(kGrainCheap, [](T x, T y) { return wrap_add(x, y); });
      case KILN_OP_SUB: return go(kGrainCheap, [](T x, T y) { return wrap_sub(x, y); });
      case KILN_OP_MUL: return go(kGrainCheap, [](T x, T y) { return wrap_mul(x, y); });
      case KILN_OP_DIV: return go(kGrainCheap, [](T x, T y) { return div_t(x, y); });
      case KILN_OP_MAXIMUM: return go(kGrainCheap, [](T x, T y) { return (x != x || x > y) ? x : y; });
      case KILN_OP_MINIMUM: return go(kGrainCheap, [](T x, T y) { return (x != x || x < y) ? x : y; });
      default: break;
    }
    if constexpr (is_float_v<T>) {
      switch (op) {
        case KILN_OP_POW: return go(kGrainCostly, [](T x, T y) { return std::pow(x, y); });
        case KILN_OP_GELU_BACKWARD: return go(kGrainCostly, [](T dy, T x) { return dy * gelu_grad_t(x); });
        case KILN_OP_RELU_BACKWARD: return go(kGrainCheap, [](T dy, T x) { return x > T(0) ? dy : T(0); });
        default: break;
      }
    }
  }
  fail(KILN_STATUS_UNSUPPORTED, "tbb: ", op_name(op), " is not supported for this dtype");
}

template <class T>
auto raw(T v) {
  if constexpr (std::is_same_v<T, Bool8>) return v.v;
  else return v;
}

template <class T>
void compare_typed(kiln_op op, const kiln_tensor_desc& a, const kiln_tensor_desc& b, const kiln_tensor_desc& out) {
  auto go = [&](auto cmp) {
    map2<Bool8, T, T>(out, a, b, kGrainCheap,
                      [cmp](T x, T y) { return Bool8{static_cast<uint8_t>(cmp(raw(x), raw(y)) ? 1 : 0)}; });
  };
  switch (op) {
    case KILN_OP_EQ: return go([](auto x, auto y) { return x == y; });
    case KILN_OP_NE: return go([](auto x, auto y) { return x != y; });
    case KILN_OP_LT: return go([](auto x, auto y) { return x < y; });
    case KILN_OP_LE: return go([](auto x, auto y) { return x <= y; });
    case KILN_OP_GT: return go([](auto x, auto y) { return x > y; });
    case KILN_OP_GE: return go([](auto x, auto y) { return x >= y; });
    default: fail(KILN_STATUS_UNSUPPORTED, "tbb: ", op_name(op), " is not a comparison");
  }
}

}  // namespace

void launch_binary(kiln_op op, const kiln_tensor_desc& a, const kiln_tensor_desc& b, const kiln_tensor_desc& out) {
  dispatch_all(a.dtype, [&](auto tag) { binary_typed<decltype(tag)>(op, a, b, out); });
}

void launch_compare(kiln_op op, const kiln_tensor_desc& a, const kiln_tensor_desc& b, const kiln_tensor_desc& out) {
  dispatch_all(a.dtype, [&](auto tag) { compare_typed<decltype(tag)>(op, a, b, out); });
}

void launch_where(const kiln_tensor_desc& cond, const kiln_tensor_desc& a, const kiln_tensor_desc& b,
                  const kiln_tensor_desc& out) {
  dispatch_all(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    map3<T, Bool8, T, T>(out, cond, a, b, kGrainCheap, [](Bool8 c, T x, T y) { return c.v ? x : y; });
  });
}

void launch_mul_add(const kiln_tensor_desc& x, const kiln_tensor_desc& y, const kiln_tensor_desc& z,
                    const kiln_tensor_desc& out) {
  dispatch_float(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    map3<T, T, T, T>(out, x, y, z, kGrainCheap, [](T a, T b, T c) { return a * b + c; });
  });
}

}  // namespace kiln::tbbk
