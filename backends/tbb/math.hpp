// Scalar math shared by the pointwise, softmax and reduction kernels. Everything here is inline
// and branch-free where it matters, so loops that use it vectorize inside multi-versioned kernels.
#ifndef KILN_BACKENDS_TBB_MATH_HPP
#define KILN_BACKENDS_TBB_MATH_HPP

#include <cmath>
#include <cstdint>
#include <cstring>

#include "common.hpp"

namespace kiln::tbbk {

// exp for float32, within 2 ulp of expf over the normal range, vectorizable (no libm call).
// Results below FLT_MIN (x < -86.9) flush to 0; x > 88.72 gives +inf; NaN propagates.
KILN_TBB_INLINE float fast_expf(float x) {
  float xc = x > -86.9f ? x : -86.9f;  // NaN goes to the clamp value and is restored at the end
  xc = xc < 88.72f ? xc : 88.72f;
  const float kLog2e = 1.44269504088896341f;
  const float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  float n = (xc * kLog2e + kRound) - kRound;
  float r = xc - n * 0.693145751953125f;  // ln 2, split so n * hi is exact
  r = r - n * 1.428606765330187045e-06f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t e = static_cast<int32_t>(n) + 126;  // 2^(n-1), in [1, 254]
  uint32_t bits = static_cast<uint32_t>(e) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  float y = p * scale * 2.0f;
  y = x < -86.9f ? 0.0f : y;
  y = x > 88.7228394f ? INFINITY : y;
  return x != x ? x : y;
}

template <class T>
KILN_TBB_INLINE T exp_t(T x) {
  if constexpr (sizeof(T) == 4) return fast_expf(x);
  else return std::exp(x);
}

template <class T>
KILN_TBB_INLINE T sigmoid_t(T x) {
  return T(1) / (T(1) + exp_t<T>(-x));
}

template <class T>
KILN_TBB_INLINE T gelu_t(T x) {
  return x * T(0.5) * (T(1) + std::erf(x * T(0.70710678118654752440)));
}

// d/dx gelu(x) = Phi(x) + x * phi(x)
template <class T>
KILN_TBB_INLINE T gelu_grad_t(T x) {
  T cdf = T(0.5) * (T(1) + std::erf(x * T(0.70710678118654752440)));
  T pdf = std::exp(T(-0.5) * x * x) * T(0.39894228040143267794);
  return cdf + x * pdf;
}

}  // namespace kiln::tbbk

#endif  // KILN_BACKENDS_TBB_MATH_HPP
