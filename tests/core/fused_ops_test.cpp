// The fused ops appended to the catalogue (MUL_ADD, RELU_BACKWARD): values on every loaded CPU
// backend, broadcasting, the composed path for dtypes the fused op does not take, and the
// gradients that use them.
#include "../support/backend_status.hpp"

#include <gtest/gtest.h>
#include <kiln/autograd.hpp>
#include <kiln/device.hpp>
#include <kiln/ops.hpp>
#include <kiln/tensor.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace {

using kiln::Tensor;

std::vector<double> values(const Tensor& t) { return t.to(kiln::Device("ref")).to_vector<double>(); }

class FusedOps : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (std::string why = kiln_test::why_backend_unusable(GetParam()); !why.empty()) GTEST_SKIP() << why;
    device = kiln::Device(GetParam());
  }
  Tensor on(std::vector<double> v, kiln::Shape shape, kiln::DType dtype = kiln::kFloat32) {
    return kiln::from_vector<double>(v, shape).to(dtype).to(device);
  }
  kiln::Device device;
};

TEST_P(FusedOps, MulAddBroadcastsPerChannel) {
  // x [2, 2, 2] * scale [1, 2, 1] + shift [1, 2, 1]: batch norm's pattern.
  Tensor x = on({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2});
  Tensor scale = on({10, -1}, {1, 2, 1}), shift = on({0.5, 100}, {1, 2, 1});
  Tensor y = kiln::mul_add(x, scale, shift);
  EXPECT_EQ(y.shape(), (kiln::Shape{2, 2, 2}));
  EXPECT_EQ(values(y), (std::vector<double>{10.5, 20.5, 97, 96, 50.5, 60.5, 93, 92}));
  // A scalar multiplier and a row addend (the SGD update's shape), and float64.
  Tensor z = kiln::mul_add(on({1, 2, 3}, {3}, kiln::kFloat64), on({-2}, {}, kiln::kFloat64),
                           on({0.25, 0.5, 0.75}, {3}, kiln::kFloat64));
  EXPECT_EQ(values(z), (std::vector<double>{-1.75, -3.5, -5.25}));
}

TEST_P(FusedOps, MulAddOnIntegersIsComposed) {
  // Integers are not a MUL_ADD dtype: the host composes MUL and ADD, with the same result.
  Tensor y = kiln::mul_add(on({1, -2, 3}, {3}, kiln::kInt32), on({4}, {}, kiln::kInt32), on({1, 1, 1}, {3}, kiln::kInt32));
  EXPECT_EQ(y.dtype(), kiln::kInt32);
  EXPECT_EQ(values(y), (std::vector<double>{5, -7, 13}));
}

TEST_P(FusedOps, MulAddGradients) {
  Tensor x = on({1, 2, 3, 4}, {2, 2}).set_requires_grad();
  Tensor s = on({3, -1}, {2}).set_requires_grad();
  Tensor b = on({5}, {}).set_requires_grad();
  kiln::sum(kiln::mul_add(x, s, b)).backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{3, -1, 3, -1}));  // s broadcast over rows
  EXPECT_EQ(values(s.grad()), (std::vector<double>{4, 6}));          // column sums of x
  EXPECT_EQ(values(b.grad()), (std::vector<double>{4}));             // summed over all four
}

TEST_P(FusedOps, ReluGradientPassesOnlyWherePositive) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = on({-1, 0, 2, 0.5, nan}, {5}).set_requires_grad();
  Tensor g = on({7, 7, 7, -3, 7}, {5});
  kiln::sum(kiln::mul(kiln::relu(x), g)).backward();
  // x > 0 passes the gradient; 0, negatives and NaN (not > 0) stop it.
  EXPECT_EQ(values(x.grad()), (std::vector<double>{0, 0, 7, -3, 0}));
}

INSTANTIATE_TEST_SUITE_P(core, FusedOps, ::testing::Values("ref", "tbb", "blas"),
                         [](const auto& info) { return info.param; });

}  // namespace
