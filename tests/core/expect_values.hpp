// Value checks shared by the nn and optim tests: a tensor against numbers written in the test.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <kiln/tensor.hpp>
#include <sstream>
#include <vector>

namespace kiln::testing {

// Passes when `actual` has `shape` (unless shape is empty and expected has one value per element)
// and every element is within atol + rtol * |expected| of its expected value.
inline ::testing::AssertionResult values_near(const Tensor& actual, const std::vector<double>& expected,
                                              const Shape& shape, double atol = 1e-5, double rtol = 1e-5) {
  if (!actual.defined()) return ::testing::AssertionFailure() << "the tensor is undefined";
  if (actual.shape() != shape)
    return ::testing::AssertionFailure() << "shape " << actual.shape() << ", expected " << shape;
  std::vector<double> got = actual.to(DType::Float64).contiguous().to_vector<double>();
  if (got.size() != expected.size())
    return ::testing::AssertionFailure() << got.size() << " elements, expected " << expected.size();
  std::ostringstream bad;
  int mismatches = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::abs(got[i] - expected[i]) <= atol + rtol * std::abs(expected[i])) continue;
    if (++mismatches <= 5) bad << "\n  [" << i << "] got " << got[i] << ", expected " << expected[i];
  }
  if (mismatches == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << mismatches << " of " << got.size() << " elements differ:" << bad.str();
}

// A float32 tensor of the given values and shape.
inline Tensor values(const std::vector<float>& v, const Shape& shape) {
  return from_vector(v, shape);
}

}  // namespace kiln::testing
