// Gradient clipping by norm and by value, against hand-computed numbers.
#include <gtest/gtest.h>

#include <kiln/optim.hpp>
#include <limits>

#include "expect_values.hpp"

namespace {

using namespace kiln;
using kiln::testing::values;
using kiln::testing::values_near;

struct TwoParams {
  // gradients [3, 4] and [12]: joint 2-norm sqrt(9 + 16 + 144) = 13, 1-norm 19, inf-norm 12
  Tensor a = zeros({2}).set_requires_grad(), b = zeros({1}).set_requires_grad();
  TwoParams() {
    a.set_grad(values({3, 4}, {2}));
    b.set_grad(values({12}, {1}));
  }
  std::vector<Tensor> params() const { return {a, b}; }
};

TEST(ClipGradNorm, ScalesAllGradientsJointly) {
  TwoParams p;
  EXPECT_NEAR(optim::clip_grad_norm_(p.params(), 6.5), 13.0, 1e-9);  // returns the norm before clipping
  // coefficient 6.5 / (13 + 1e-6): everything halves
  EXPECT_TRUE(values_near(p.a.grad(), {1.5, 2}, {2}));
  EXPECT_TRUE(values_near(p.b.grad(), {6}, {1}));
  EXPECT_NEAR(optim::clip_grad_norm_(p.params(), 100.0), 6.5, 1e-5);  // under the limit: untouched
  EXPECT_TRUE(values_near(p.b.grad(), {6}, {1}));
}

TEST(ClipGradNorm, OtherNormTypes) {
  TwoParams inf;
  EXPECT_NEAR(optim::clip_grad_norm_(inf.params(), 6.0, std::numeric_limits<double>::infinity()), 12.0, 1e-9);
  EXPECT_TRUE(values_near(inf.a.grad(), {1.5, 2}, {2}));
  EXPECT_TRUE(values_near(inf.b.grad(), {6}, {1}));
  TwoParams l1;
  EXPECT_NEAR(optim::clip_grad_norm_(l1.params(), 4.75, 1.0), 19.0, 1e-9);
  EXPECT_TRUE(values_near(l1.a.grad(), {0.75, 1}, {2}));
  EXPECT_TRUE(values_near(l1.b.grad(), {3}, {1}));
}

TEST(ClipGradNorm, SkipsParametersWithoutGradients) {
  TwoParams p;
  Tensor none = ones({3}).set_requires_grad();
  std::vector<Tensor> params = p.params();
  params.push_back(none);
  EXPECT_NEAR(optim::clip_grad_norm_(params, 1.0), 13.0, 1e-9);
  EXPECT_FALSE(none.grad().defined());
  EXPECT_TRUE(values_near(p.a.grad(), {3.0 / 13, 4.0 / 13}, {2}));
}

TEST(ClipGradValue, ClampsEachElement) {
  Tensor a = zeros({3}).set_requires_grad(), b = zeros({2}).set_requires_grad();
  a.set_grad(values({-3, 0.5f, 2}, {3}));
  b.set_grad(values({1, -1}, {2}));
  optim::clip_grad_value_({a, b}, 0.75);
  EXPECT_TRUE(values_near(a.grad(), {-0.75, 0.5, 0.75}, {3}));
  EXPECT_TRUE(values_near(b.grad(), {0.75, -0.75}, {2}));
}

}  // namespace
