// Element types of the reference backend: dtype dispatch, conversions without undefined behaviour,
// and wrapping integer arithmetic.
#ifndef KILN_BACKENDS_REF_DTYPE_HPP
#define KILN_BACKENDS_REF_DTYPE_HPP

#include <cmath>
#include <cstdint>
#include <kiln/plugin/host_backend.hpp>
#include <kiln/plugin/op_info.h>
#include <limits>
#include <type_traits>

namespace kiln::ref {

using plugin::fail;

// Storage of KILN_DTYPE_BOOL: one byte. Not C++ bool (loading a byte other than 0/1 into a bool is
// undefined) and not uint8_t (that is KILN_DTYPE_UINT8), so templates can tell the three apart.
struct Bool8 {
  uint8_t v;
};

template <class T>
inline constexpr bool is_float_v = std::is_floating_point_v<T>;
template <class T>
inline constexpr bool is_int_v = std::is_integral_v<T>;  // int32_t, int64_t, uint8_t (Bool8 is not)

// Floats accumulate in double; integers in their own type, wrapping.
template <class T>
using acc_t = std::conditional_t<is_float_v<T>, double, T>;

inline const char* dtype_name(int32_t dtype) {
  return kiln_dtype_name(dtype);
}

inline bool is_float_dtype(int32_t t) {
  return t == KILN_DTYPE_FLOAT32 || t == KILN_DTYPE_FLOAT64;
}
inline bool is_int_dtype(int32_t t) {
  return t == KILN_DTYPE_INT32 || t == KILN_DTYPE_INT64 || t == KILN_DTYPE_UINT8;
}
inline bool is_numeric_dtype(int32_t t) {
  return is_float_dtype(t) || is_int_dtype(t);
}
inline bool is_valid_dtype(int32_t t) {
  return t >= 0 && t < KILN_DTYPE_COUNT;
}

// ---- dispatch: calls fn(T{}) with the C++ type of `dtype` ----
[[noreturn]] inline void unexpected_dtype(int32_t dtype) {
  fail(KILN_STATUS_INTERNAL, "ref: unexpected dtype ", dtype, " (supports() should have refused it)");
}
template <class Fn>
void dispatch_float(int32_t dtype, Fn&& fn) {
  switch (dtype) {
    case KILN_DTYPE_FLOAT32:
      fn(float{});
      return;
    case KILN_DTYPE_FLOAT64:
      fn(double{});
      return;
    default:
      unexpected_dtype(dtype);
  }
}
template <class Fn>
void dispatch_numeric(int32_t dtype, Fn&& fn) {
  switch (dtype) {
    case KILN_DTYPE_INT32:
      fn(int32_t{});
      return;
    case KILN_DTYPE_INT64:
      fn(int64_t{});
      return;
    case KILN_DTYPE_UINT8:
      fn(uint8_t{});
      return;
    default:
      dispatch_float(dtype, fn);
  }
}
template <class Fn>
void dispatch_all(int32_t dtype, Fn&& fn) {
  if (dtype == KILN_DTYPE_BOOL) {
    fn(Bool8{});
  } else {
    dispatch_numeric(dtype, fn);
  }
}

// ---- conversions ----
// double -> float with IEEE round-to-nearest, spelled out: a C++ cast of an out-of-range double is
// undefined behaviour.
inline float narrow_to_float(double v) {
  constexpr double kMax = std::numeric_limits<float>::max();
  constexpr double kRoundsToInf = 0x1.ffffffp+127;  // halfway between FLT_MAX and 2^128
  constexpr float kInf = std::numeric_limits<float>::infinity();
  if (v > kMax) return v >= kRoundsToInf ? kInf : std::numeric_limits<float>::max();
  if (v < -kMax) return v <= -kRoundsToInf ? -kInf : -std::numeric_limits<float>::max();
  return static_cast<float>(v);
}

// double -> integer: NaN gives 0, values are clamped into the type's range, then truncated.
template <class I>
I saturate(double v) {
  using L = std::numeric_limits<I>;
  if (std::isnan(v)) return 0;
  if (v >= static_cast<double>(L::max()) + 1.0) return L::max();
  if (v <= static_cast<double>(L::min()) - 1.0) return L::min();
  return static_cast<I>(v);  // in range after truncation
}

inline bool truthy(Bool8 v) {
  return v.v != 0;
}
template <class T>
bool truthy(T v) {
  return v != 0;  // NaN is true, as in C and PyTorch
}

// The one conversion rule of the backend (CAST, FILL, scalars, random outputs):
// -> bool is != 0; bool -> x is 0/1; float -> int clamps then truncates; int -> int wraps.
template <class To, class From>
To convert(From v) {
  if constexpr (std::is_same_v<To, Bool8>) {
    return Bool8{static_cast<uint8_t>(truthy(v) ? 1 : 0)};
  } else if constexpr (std::is_same_v<From, Bool8>) {
    return static_cast<To>(truthy(v) ? 1 : 0);
  } else if constexpr (is_int_v<To> && is_float_v<From>) {
    return saturate<To>(static_cast<double>(v));
  } else if constexpr (std::is_same_v<To, float> && std::is_same_v<From, double>) {
    return narrow_to_float(v);
  } else {
    return static_cast<To>(v);  // widening, int -> float (always in range), int -> int (modular)
  }
}

// ---- wrapping integer arithmetic (signed overflow is undefined; unsigned wraps) ----
template <class T>
T wrap_add(T a, T b) {
  if constexpr (is_float_v<T>) {
    return a + b;
  } else {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  }
}
template <class T>
T wrap_sub(T a, T b) {
  if constexpr (is_float_v<T>) {
    return a - b;
  } else {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
  }
}
template <class T>
T wrap_mul(T a, T b) {
  if constexpr (is_float_v<T>) {
    return a * b;
  } else {
    // uint8_t promotes to int (255 * 255 fits); wider types multiply as unsigned.
    using U = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;
    return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
  }
}
template <class T>
T wrap_neg(T a) {
  return wrap_sub(T{0}, a);
}

}  // namespace kiln::ref

#endif  // KILN_BACKENDS_REF_DTYPE_HPP
