// Layers against hand-computed values: tiny inputs, weights set by the test, expected numbers
// written out (worked by hand where short, otherwise checked against PyTorch 1.13 in float64).
// Gradients are checked here for the composites (conv "same" padding, batch/layer norm, dropout);
// the primitive ops have finite-difference checks in tests/core/gradcheck_test.cpp.
#include <gtest/gtest.h>

#include <kiln/autograd.hpp>
#include <kiln/nn/functional.hpp>
#include <kiln/nn/layers.hpp>
#include <kiln/random.hpp>

#include "expect_values.hpp"

namespace {

using namespace kiln;
using kiln::testing::values;
using kiln::testing::values_near;

void set(Tensor& param, const Tensor& value) {
  NoGradGuard guard;
  param.copy_(value);
}

// y = sum(out * weights): backward with a non-uniform upstream gradient.
void backward_weighted(const Tensor& out, const std::vector<float>& upstream) {
  out.backward(values(upstream, out.shape()));
}

// ---------------------------------------------------------------- Linear
TEST(Linear, ForwardAndGradientsByHand) {
  nn::Linear fc(3, 2);
  set(fc->weight, values({0.1f, -0.2f, 0.3f, 0.4f, 0.5f, -0.6f}, {2, 3}));
  set(fc->bias, values({0.01f, -0.02f}, {2}));
  Tensor x = values({1, 2, 3, -1, 0, 0.5f}, {2, 3}).set_requires_grad();
  Tensor y = fc(x);
  // row 0: 0.1 - 0.4 + 0.9 + 0.01 = 0.61;  0.4 + 1.0 - 1.8 - 0.02 = -0.42
  // row 1: -0.1 + 0 + 0.15 + 0.01 = 0.06;  -0.4 + 0 - 0.3 - 0.02 = -0.72
  EXPECT_TRUE(values_near(y, {0.61, -0.42, 0.06, -0.72}, {2, 2}));
  sum(y).backward();
  // d sum / dW[o, i] = sum over rows of x[:, i]; d/db = rows; d/dx[r, i] = sum over o of W[o, i]
  EXPECT_TRUE(values_near(fc->weight.grad(), {0, 2, 3.5, 0, 2, 3.5}, {2, 3}));
  EXPECT_TRUE(values_near(fc->bias.grad(), {2, 2}, {2}));
  EXPECT_TRUE(values_near(x.grad(), {0.5, 0.3, -0.3, 0.5, 0.3, -0.3}, {2, 3}));
}

TEST(Linear, NoBiasAndLeadingAxes) {
  nn::Linear fc(2, 1, {.bias = false});
  EXPECT_FALSE(fc->bias.defined());
  EXPECT_EQ(fc->parameters().size(), 1u);
  set(fc->weight, values({2, -1}, {1, 2}));
  Tensor y = fc(values({1, 1, 2, 0, 0, 3, -1, 1}, {2, 2, 2}));
  EXPECT_TRUE(values_near(y, {1, 4, -3, -3}, {2, 2, 1}));
}

// ---------------------------------------------------------------- Conv2d
// x = [[1, 2, 0, -1], [3, -2, 1, 0], [0, 1, 4, 2], [-1, 0, 2, 1]], one image, one channel.
Tensor conv_input() {
  return values({1, 2, 0, -1, 3, -2, 1, 0, 0, 1, 4, 2, -1, 0, 2, 1}, {1, 1, 4, 4});
}
// w = [[1, 0, -1], [2, 1, 0], [0, -1, 0.5]]
Tensor conv_kernel() {
  return values({1, 0, -1, 2, 1, 0, 0, -1, 0.5f}, {1, 1, 3, 3});
}

nn::Conv2d conv_with(nn::Conv2dOptions o, Tensor kernel = conv_kernel(), float bias = 0.5f) {
  nn::Conv2d conv(kernel.shape()[1] * o.groups, kernel.shape()[0], {kernel.shape()[2], kernel.shape()[3]}, o);
  set(conv->weight, kernel);
  if (conv->bias.defined()) set(conv->bias, full({kernel.shape()[0]}, bias));
  return conv;
}

TEST(Conv2d, ValidPaddingByHand) {
  auto conv = conv_with({});
  // top-left window [[1,2,0],[3,-2,1],[0,1,4]] . w = 1 + 0 - 0 + 6 - 2 + 0 + 0 - 1 + 2 = 6, + 0.5 bias
  EXPECT_TRUE(values_near(conv(conv_input()), {6.5, -2.5, 4.5, 3}, {1, 1, 2, 2}));
}

TEST(Conv2d, StrideAndPadding) {
  EXPECT_TRUE(
      values_near(conv_with({.stride = 2, .padding = 1})(conv_input()), {-2.5, 3.5, 3.5, 3}, {1, 1, 2, 2}));
  EXPECT_TRUE(values_near(conv_with({.stride = {2, 1}, .padding = {1, 0}})(conv_input()), {7, 3.5, 4.5, 3},
                          {1, 1, 2, 2}));
}

TEST(Conv2d, PaddingSameOddKernelAndDilation) {
  EXPECT_TRUE(values_near(conv_with({.padding_preset = "same"})(conv_input()),
                          {-2.5, 7, 3.5, -0.5, 2, 6.5, -2.5, 0.5, 3.5, 4.5, 3, 10.5, -1.5, -5.5, 1.5, 9.5},
                          {1, 1, 4, 4}));
  EXPECT_TRUE(values_near(conv_with({.padding_preset = "same", .dilation = 2})(conv_input()),
                          {3.5, 2.5, -1.5, 1.5, 5.5, -1, 5.5, -4.5, 0.5, 2.5, 5.5, 6.5, -1.5, 0.5, 3.5, -0.5},
                          {1, 1, 4, 4}));
  EXPECT_TRUE(values_near(conv_with({.padding_preset = "valid", .bias = false})(conv_input()),
                          {6, -3, 4, 2.5}, {1, 1, 2, 2}));
}

TEST(Conv2d, PaddingSameEvenKernelPadsRightAndBottom) {
  // k = 2: total padding 1 per axis, put on the right and bottom as PyTorch does.
  auto conv = conv_with({.padding_preset = "same", .bias = false}, values({1, -1, 0.5f, 2}, {1, 1, 2, 2}));
  Tensor x = conv_input().set_requires_grad();
  Tensor y = conv(x);
  // y[0,0] = 1*1 - 1*2 + 0.5*3 + 2*(-2) = -3.5; y[3,3] (bottom-right, padded) = 1*1 = 1
  EXPECT_TRUE(values_near(y, {-3.5, 3, 1.5, -1, 7, 5.5, 7, 1, -1.5, 1, 5, 2.5, -1, -2, 1, 1}, {1, 1, 4, 4}));
  std::vector<float> upstream;
  for (int i = 0; i < 16; ++i) upstream.push_back(static_cast<float>(i) / 4);
  backward_weighted(y, upstream);
  EXPECT_TRUE(values_near(
      x.grad(), {0, 0.25, 0.25, 0.25, 1, 0.375, 1, 1.625, 2.5, 2.875, 3.5, 4.125, 4, 5.375, 6, 6.625},
      {1, 1, 4, 4}));
  EXPECT_TRUE(values_near(conv->weight.grad(), {27.25, 24.75, 16.5, 16.25}, {1, 1, 2, 2}));
}

TEST(Conv2d, Dilation) {
  // x5[i] = (3 i mod 7) - 2; taps at rows/cols 0, 2, 4: -2*1 + 3*-1 + -1*1 + 1*-1 = -7
  std::vector<float> v;
  for (int i = 0; i < 25; ++i) v.push_back(static_cast<float>((3 * i) % 7 - 2));
  Tensor x5 = values(v, {1, 1, 5, 5});
  EXPECT_TRUE(values_near(conv_with({.dilation = 2, .bias = false})(x5), {-7}, {1, 1, 1, 1}));
  EXPECT_TRUE(values_near(conv_with({.padding = 1, .dilation = 2, .bias = false})(x5),
                          {-0.5, -4.5, 2, 7, -7, 5, 3, -3, 13}, {1, 1, 3, 3}));
  EXPECT_TRUE(values_near(conv_with({.dilation = {1, 2}, .bias = false})(x5), {-9, -6.5, 3}, {1, 1, 3, 1}));
}

TEST(Conv2d, TwoChannelsStridePaddingAndGradients) {
  // channel 1 is channel 0 mirrored left-right; out 0 = w on channel 0, out 1 = 0.25 box on
  // channel 0 minus w on channel 1.
  Tensor x0 = conv_input();
  Tensor x1 = values({-1, 0, 2, 1, 0, 1, -2, 3, 2, 4, 1, 0, 1, 2, 0, -1}, {1, 1, 4, 4});
  Tensor x = cat({x0, x1}, 1).set_requires_grad();
  Tensor w = cat(
      {cat({conv_kernel(), zeros({1, 1, 3, 3})}, 1), cat({full({1, 1, 3, 3}, 0.25), neg(conv_kernel())}, 1)},
      0);
  nn::Conv2d conv(2, 2, 3, {.stride = 2, .padding = 1});
  set(conv->weight, w);
  set(conv->bias, values({0, 1}, {2}));
  Tensor y = conv(x);
  EXPECT_TRUE(values_near(y, {-3, 3, 3, 2.5, 2.5, -4.5, 0.25, -3.25}, {1, 2, 2, 2}));
  backward_weighted(y, {-3, -2, -1, 0, 1, 2, 3, 4});
  EXPECT_TRUE(values_near(x.grad(),
                          {-2.75, -3.25, -1.5, 0.5, 4, 2,    3.5, 0.5, -0.25, 1.75, 1,  1, 1.75, 1.25, 1, 1,
                           -1,    -4,    -2,   0,   1, -1.5, 2,   3,   -3,    -8,   -4, 0, 3,    -1.5, 4, -2},
                          {1, 2, 4, 4}));
  EXPECT_TRUE(values_near(conv->weight.grad(),
                          {0,  -3, 2,  -4, -3, -5, 4,  -10, 6, 0, 0,  -1, 0,  -3, -6, -2, 3,  -11,
                           -8, 13, -6, 8,  17, 11, -4, 10,  2, 4, -8, 15, 16, 13, 14, 10, -1, 9},
                          {2, 2, 3, 3}));
  EXPECT_TRUE(values_near(conv->bias.grad(), {-6, 10}, {2}));  // sums of the upstream per channel
}

TEST(Conv2d, Groups) {
  // 4 input channels x, -x, x/2, x^T in two groups; out 0 sees channels 0-1, out 1 sees 2-3.
  Tensor x = conv_input();
  Tensor xg = cat({x, neg(x), mul(x, 0.5), x.transpose(-2, -1).contiguous()}, 1);
  auto conv = conv_with({.groups = 2}, values({1, 2, -1, 0.5f, 0.5f, 0, 1, -1}, {2, 2, 1, 2}));
  EXPECT_EQ(conv->weight.shape(), (Shape{2, 2, 1, 2}));
  set(conv->bias, values({0.1f, -0.1f}, {2}));
  // out 0 at (0, 0): x: 1*1 + 2*2, -x: -1*-1 + 0.5*-2 -> 5 + 0 + 0.1 = 5.1
  EXPECT_TRUE(values_near(conv(xg), {5.1,   4.1, -1.4, 3.1,  -2.4, 2.1,  1.6,  8.1,   11.1, -1.9,  3.1,  5.6,
                                     -1.85, 3.4, 0.9,  4.65, -3.6, 1.15, -1.1, -2.85, 2.9,  -1.35, -2.1, 1.4},
                          {1, 2, 4, 3}));
}

TEST(Conv2d, RejectsBadOptions) {
  EXPECT_THROW(nn::Conv2d(3, 4, 3, {.groups = 2}), ValueError);
  EXPECT_THROW(nn::Conv2d(2, 4, 3, {.stride = 2, .padding_preset = "same"}), ValueError);
  EXPECT_THROW(nn::Conv2d(2, 4, 3, {.padding_preset = "full"}), ValueError);
}

// ---------------------------------------------------------------- pooling
// [[1, 3, 2, 0], [5, -1, 4, 6], [0, 2, -3, 1], [7, 1, 2, 8]]
Tensor pool_input() {
  return values({1, 3, 2, 0, 5, -1, 4, 6, 0, 2, -3, 1, 7, 1, 2, 8}, {1, 1, 4, 4});
}
// 5x5, x[i] = (-1 + 0.25 i) * (+1, -1, +1, ...)
Tensor pool_input5() {
  std::vector<float> v;
  for (int i = 0; i < 25; ++i) v.push_back((-1.0f + 0.25f * static_cast<float>(i)) * (i % 2 ? -1.0f : 1.0f));
  return values(v, {1, 1, 5, 5});
}

TEST(MaxPool2d, ValuesAndGradientGoesToTheMaximum) {
  Tensor x = pool_input().set_requires_grad();
  Tensor y = nn::MaxPool2d(2)(x);
  EXPECT_TRUE(values_near(y, {5, 6, 7, 8}, {1, 1, 2, 2}));
  sum(y).backward();
  EXPECT_TRUE(values_near(x.grad(), {0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1}, {1, 1, 4, 4}));
  EXPECT_TRUE(
      values_near(nn::MaxPool2d(3, {.stride = 2, .padding = 1})(pool_input()), {5, 6, 7, 8}, {1, 1, 2, 2}));
  EXPECT_TRUE(values_near(nn::MaxPool2d(2, {.ceil_mode = true})(pool_input5()),
                          {0.75, 1, 0, 3, 3.5, 2.5, 4, 4.5, 5}, {1, 1, 3, 3}));
  // A padded maximum never comes from the padding: all-negative input keeps its values.
  EXPECT_TRUE(
      values_near(nn::MaxPool2d(2, {.stride = 1, .padding = 1})(values({-1, -2, -3, -4}, {1, 1, 2, 2})),
                  {-1, -1, -2, -1, -1, -2, -3, -3, -4}, {1, 1, 3, 3}));
}

TEST(AvgPool2d, CountIncludePadOrNot) {
  EXPECT_TRUE(values_near(nn::AvgPool2d(2)(pool_input()), {2, 3, 2.5, 2}, {1, 1, 2, 2}));
  // window at (0, 0) with padding 1 covers [[1, 3], [5, -1]] (sum 8) of 9 cells: 8/9 or 8/4
  EXPECT_TRUE(values_near(nn::AvgPool2d(3, {.stride = 2, .padding = 1})(pool_input()),
                          {8.0 / 9, 14.0 / 9, 14.0 / 9, 20.0 / 9}, {1, 1, 2, 2}));
  EXPECT_TRUE(
      values_near(nn::AvgPool2d(3, {.stride = 2, .padding = 1, .count_include_pad = false})(pool_input()),
                  {2, 14.0 / 6, 14.0 / 6, 20.0 / 9}, {1, 1, 2, 2}));
  Tensor x = pool_input().set_requires_grad();
  sum(nn::AvgPool2d(2)(x)).backward();
  EXPECT_TRUE(values_near(x.grad(), std::vector<double>(16, 0.25), {1, 1, 4, 4}));
}

TEST(AdaptiveAvgPool2d, OverlappingBinsAndGlobal) {
  // 5 -> 2 rows: bins [0, 3) and [2, 5); 5 -> 3 cols: [0, 2), [1, 4), [3, 5)
  EXPECT_TRUE(values_near(nn::AdaptiveAvgPool2d({2, 3})(pool_input5()),
                          {-0.04166667, -0.08333333, 0.04166667, -0.04166667, -0.3611111, 0.04166667},
                          {1, 1, 2, 3}));
  EXPECT_TRUE(values_near(nn::AdaptiveAvgPool2d(1)(pool_input()), {38.0 / 16}, {1, 1, 1, 1}));
  EXPECT_TRUE(values_near(nn::AdaptiveAvgPool2d(2)(pool_input()), {2, 3, 2.5, 2}, {1, 1, 2, 2}));
}

// ---------------------------------------------------------------- BatchNorm
TEST(BatchNorm1d, TrainingUsesBatchStatisticsAndUpdatesRunningOnes) {
  nn::BatchNorm1d bn(3);
  set(bn->weight, values({1, 2, 0.5f}, {3}));
  set(bn->bias, values({0, 1, -1}, {3}));
  Tensor x = values({1, 2, 3, 2, 0, -1, 4, 1, 0, -1, 3, 2}, {4, 3}).set_requires_grad();
  Tensor y = bn(x);
  // column 0: mean 1.5, biased var (0.25 + 0.25 + 6.25 + 6.25) / 4 = 3.25: (1 - 1.5) / sqrt(3.25 + 1e-5) =
  // -0.27735
  EXPECT_TRUE(values_near(y,
                          {-0.2773497, 1.894424, -0.3675457, 0.2773497, -1.683271, -1.632454, 1.386748,
                           0.1055764, -1.316227, -1.386748, 3.683271, -0.6837729},
                          {4, 3}));
  backward_weighted(y, {0.5f, 0.75f, 1, 1.25f, 1.5f, 1.75f, 2, 2.25f, 2.5f, 2.75f, 3, 3.25f});
  EXPECT_TRUE(values_near(x.grad(),
                          {-0.6560385, -2.280778, -0.3083216, -0.1760105, 0.1341571, -0.1660191, 0.3680212,
                           0.9391426, 0.09486823, 0.4640278, 1.207478, 0.3794725},
                          {4, 3}));
  EXPECT_TRUE(values_near(bn->weight.grad(), {-0.832049, 1.341635, -0.4743407}, {3}));
  EXPECT_TRUE(values_near(bn->bias.grad(), {6.5, 7.5, 8.5}, {3}));
  // running_mean = 0.9 * 0 + 0.1 * 1.5; running_var = 0.9 * 1 + 0.1 * (13 / 3), the unbiased variance
  EXPECT_TRUE(values_near(bn->running_mean, {0.15, 0.15, 0.1}, {3}));
  EXPECT_TRUE(values_near(bn->running_var, {1.333333, 1.066667, 1.233333}, {3}));
  bn(mul(x.detach(), 2.0));
  EXPECT_TRUE(values_near(bn->running_mean, {0.435, 0.435, 0.29}, {3}));
  EXPECT_TRUE(values_near(bn->running_var, {2.933333, 1.626667, 2.443333}, {3}));
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 2);

  bn->eval();
  Tensor before = bn->running_mean.clone();
  // eval: (x - running_mean) / sqrt(running_var + eps) * weight + bias; the statistics stay put
  EXPECT_TRUE(values_near(bn(x.detach()),
                          {0.3298884, 3.454108, -0.1331438, 0.9137616, 0.3178677, -1.412636, 2.081508,
                           1.885988, -1.092763, -0.8378581, 5.022229, -0.453017},
                          {4, 3}));
  EXPECT_TRUE(equal(bn->running_mean, before));
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 2);
}

TEST(BatchNorm2d, PerChannelOverBatchAndSpaceWithMomentum) {
  nn::BatchNorm2d bn(2, {.momentum = 0.5});
  Tensor x =
      values({1, 0.64f, 0.36f, 0.16f, 0.04f, 0, 0.04f, 0.16f, 0.36f, 0.64f, 1, 1.44f, 1.96f, 2.56f, 3.24f, 4},
             {2, 2, 2, 2});
  EXPECT_TRUE(values_near(
      bn(x),
      {0.7566258, -0.1513252, -0.8575093, -1.361927, -0.9493317, -0.9753408, -0.9493317, -0.8713045,
       -0.8575093, -0.1513252, 0.7566258, 1.866344, 0.2991045, 0.6892409, 1.131395, 1.625568},
      {2, 2, 2, 2}));
  // channel 0 holds 1, .64, .36, .16, .36, .64, 1, 1.44: mean 0.7, so running_mean = 0.5 * 0.7
  EXPECT_TRUE(values_near(bn->running_mean, {0.35, 0.75}, {2}));
  EXPECT_TRUE(values_near(bn->running_var, {0.5898286, 1.851543}, {2}));
  bn->eval();
  EXPECT_TRUE(values_near(
      bn(x),
      {0.8463437, 0.3775995, 0.01302067, -0.2473928, -0.5217834, -0.5511797, -0.5217834, -0.4335947,
       0.01302067, 0.3775995, 0.8463437, 1.419253, 0.8892366, 1.33018, 1.829917, 2.388445},
      {2, 2, 2, 2}));
}

TEST(BatchNorm, WithoutRunningStatsEvalUsesTheBatch) {
  nn::BatchNorm1d bn(1, {.affine = false, .track_running_stats = false});
  EXPECT_TRUE(bn->parameters().empty());
  EXPECT_TRUE(bn->named_buffers().empty());
  bn->eval();
  // [1, 3]: mean 2, biased var 1 -> (-1, 1) / sqrt(1 + 1e-5)
  EXPECT_TRUE(values_near(bn(values({1, 3}, {2, 1})), {-0.999995, 0.999995}, {2, 1}));
  nn::BatchNorm1d train_bn(2);
  EXPECT_THROW(train_bn(values({1, 2}, {1, 2})), ValueError);  // one value per channel
}

// ---------------------------------------------------------------- LayerNorm
TEST(LayerNorm, ValuesAndGradients) {
  nn::LayerNorm ln(4);
  set(ln->weight, values({1, 0.5f, 2, -1}, {4}));
  set(ln->bias, values({0.1f, 0.2f, 0.3f, 0.4f}, {4}));
  Tensor x = values({1, 2, 4, -1, 0.5f, 0.5f, 3, 1}, {2, 4}).set_requires_grad();
  Tensor y = ln(x);
  // row 0: mean 1.5, var 3.25: (1 - 1.5) / sqrt(3.25) * 1 + 0.1 = -0.17735
  EXPECT_TRUE(values_near(
      y, {-0.1773497, 0.3386748, 3.073497, 1.786748, -0.6276035, -0.1638017, 3.695483, 0.6425345}, {2, 4}));
  backward_weighted(y, {-1, -0.7f, -0.4f, -0.1f, 0.2f, 0.5f, 0.8f, 1.1f});
  EXPECT_TRUE(values_near(
      x.grad(), {-0.3114849, 0.1312076, 0.04586874, 0.1344085, 0.4322776, 0.4807845, 0.228278, -1.14134},
      {2, 4}));
  EXPECT_TRUE(values_near(ln->weight.grad(), {0.131829, -0.5579465, 0.8034938, -0.1281131}, {4}));
  EXPECT_TRUE(values_near(ln->bias.grad(), {-0.8, -0.2, 0.4, 1}, {4}));
}

TEST(LayerNorm, OverTwoTrailingAxesWithoutAffine) {
  nn::LayerNorm ln(Shape{2, 3}, {.elementwise_affine = false});
  EXPECT_TRUE(ln->parameters().empty());
  std::vector<float> v;
  for (int i = 0; i < 12; ++i)
    v.push_back((-1.0f + 0.3f * static_cast<float>(i)) * (-1.0f + 0.3f * static_cast<float>(i)));
  EXPECT_TRUE(values_near(ln(values(v, {2, 2, 3})),
                          {1.981569, 0.4843836, -0.4843836, -0.9247323, -0.8366626, -0.2201744, -1.262415,
                           -0.9070686, -0.4395075, 0.1402683, 0.8322588, 1.636464},
                          {2, 2, 3}));
  nn::LayerNorm with_bias_off(3, {.bias = false});
  EXPECT_EQ(with_bias_off->parameters().size(), 1u);
}

// ---------------------------------------------------------------- Dropout
TEST(Dropout, TrainingZeroesAboutPAndScalesTheRest) {
  manual_seed(11);
  nn::Dropout drop(0.5);
  Tensor x = ones({2000}).set_requires_grad();
  Tensor y = drop(x);
  std::vector<float> v = y.to_vector<float>();
  int64_t zeros_seen = 0;
  for (float e : v) {
    ASSERT_TRUE(e == 0.0f || e == 2.0f) << e;
    zeros_seen += e == 0.0f;
  }
  EXPECT_GT(zeros_seen, 900);  // Binomial(2000, 0.5): mean 1000, sd 22
  EXPECT_LT(zeros_seen, 1100);
  sum(y).backward();
  EXPECT_TRUE(equal(x.grad(), y.detach()));  // d/dx = mask / (1 - p), the same numbers as y for x = 1

  nn::Dropout drop_quarter(0.25);
  std::vector<float> q = drop_quarter(ones({1000})).to_vector<float>();
  for (float e : q) ASSERT_TRUE(e == 0.0f || std::abs(e - 4.0f / 3.0f) < 1e-6f) << e;
}

TEST(Dropout, EvalAndEdgeProbabilities) {
  Tensor x = values({1, -2, 3}, {3});
  nn::Dropout drop(0.9);
  drop->eval();
  EXPECT_TRUE(equal(drop(x), x));
  EXPECT_TRUE(equal(nn::Dropout(0.0)(x), x));
  EXPECT_TRUE(values_near(nn::Dropout(1.0)(x), {0, 0, 0}, {3}));
  EXPECT_THROW(nn::Dropout(1.5), ValueError);
}

TEST(Dropout, SameSeedSameMask) {
  manual_seed(5);
  Tensor a = nn::functional::dropout(ones({64}), 0.3);
  manual_seed(5);
  Tensor b = nn::functional::dropout(ones({64}), 0.3);
  EXPECT_TRUE(equal(a, b));
}

// ---------------------------------------------------------------- shape layers
TEST(Flatten, DefaultKeepsTheBatchAxis) {
  Tensor x = arange(120, {.dtype = DType::Float32}).reshape({2, 3, 4, 5});
  Tensor y = nn::Flatten()(x);
  EXPECT_EQ(y.shape(), (Shape{2, 60}));
  EXPECT_TRUE(equal(y, x.reshape({2, 60})));
  EXPECT_EQ(nn::Flatten(1, 2)(x).shape(), (Shape{2, 12, 5}));
  EXPECT_EQ(nn::Flatten(0, -1)(x).shape(), (Shape{120}));
}

TEST(Identity, ReturnsItsInput) {
  Tensor x = values({1, 2, 3}, {3}).set_requires_grad();
  Tensor y = nn::Identity()(x);
  EXPECT_TRUE(equal(y, x));
  sum(y).backward();
  EXPECT_TRUE(values_near(x.grad(), {1, 1, 1}, {3}));
}

// ---------------------------------------------------------------- activations
TEST(Activations, ValuesAtFivePoints) {
  Tensor x = values({-2, -0.5f, 0, 0.5f, 2}, {5});
  EXPECT_TRUE(values_near(nn::ReLU()(x), {0, 0, 0, 0.5, 2}, {5}));
  EXPECT_TRUE(values_near(nn::LeakyReLU(0.1)(x), {-0.2, -0.05, 0, 0.5, 2}, {5}));
  EXPECT_TRUE(values_near(nn::LeakyReLU()(x), {-0.02, -0.005, 0, 0.5, 2}, {5}));
  // GELU exact: x * Phi(x) = x (1 + erf(x / sqrt 2)) / 2; Phi(2) = 0.97725
  EXPECT_TRUE(values_near(nn::GELU()(x), {-0.04550026, -0.1542688, 0, 0.3457312, 1.9545}, {5}));
  // SiLU: x * sigmoid(x); sigmoid(2) = 1 / (1 + e^-2) = 0.880797
  EXPECT_TRUE(values_near(nn::SiLU()(x), {-0.2384058, -0.1887703, 0, 0.3112297, 1.761594}, {5}));
  EXPECT_TRUE(values_near(nn::Sigmoid()(x), {0.1192029, 0.3775407, 0.5, 0.6224593, 0.8807971}, {5}));
  EXPECT_TRUE(values_near(nn::Tanh()(x), {-0.9640276, -0.4621172, 0, 0.4621172, 0.9640276}, {5}));
}

TEST(Activations, GradientsAtFivePoints) {
  auto grad_of = [](const nn::ModulePtr& layer) {
    Tensor x = values({-2, -0.5f, 0.25f, 0.5f, 2}, {5}).set_requires_grad();
    sum((*layer)(x)).backward();
    return x.grad();
  };
  EXPECT_TRUE(values_near(grad_of(nn::ReLU()), {0, 0, 1, 1, 1}, {5}));
  EXPECT_TRUE(values_near(grad_of(nn::LeakyReLU(0.1)), {0.1, 0.1, 1, 1, 1}, {5}));
  // sigmoid' = s (1 - s); tanh' = 1 - t^2
  EXPECT_TRUE(
      values_near(grad_of(nn::Sigmoid()), {0.1049936, 0.2350037, 0.2461341, 0.2350037, 0.1049936}, {5}));
  EXPECT_TRUE(
      values_near(grad_of(nn::Tanh()), {0.07065082, 0.7864477, 0.9400148, 0.7864477, 0.07065082}, {5}));
  // gelu' = Phi(x) + x phi(x); silu' = s (1 + x (1 - s))
  EXPECT_TRUE(values_near(grad_of(nn::GELU()), {-0.0852318, 0.1325049, 0.6953734, 0.8674951, 1.085232}, {5}));
  EXPECT_TRUE(values_near(grad_of(nn::SiLU()), {-0.09078425, 0.2600388, 0.62371, 0.7399612, 1.090784}, {5}));
}

TEST(Softmax, RowsAndColumns) {
  Tensor x = values({1, 2, 3, -1, 0, 4}, {2, 3});
  // e^1, e^2, e^3 over their sum: 0.0900306, 0.2447285, 0.6652410
  EXPECT_TRUE(values_near(nn::Softmax()(x),
                          {0.09003057, 0.2447285, 0.665241, 0.006573263, 0.01786798, 0.9755588}, {2, 3}));
  EXPECT_TRUE(values_near(nn::Softmax(0)(x),
                          {0.8807971, 0.8807971, 0.2689414, 0.1192029, 0.1192029, 0.7310586}, {2, 3}));
  // log_softmax = x - logsumexp(x): 1 - 3.407606
  EXPECT_TRUE(values_near(nn::LogSoftmax(1)(x),
                          {-2.407606, -1.407606, -0.407606, -5.024745, -4.024745, -0.02474489}, {2, 3}));
  // Large logits do not overflow.
  EXPECT_TRUE(values_near(nn::Softmax()(values({1000, 1000}, {1, 2})), {0.5, 0.5}, {1, 2}));
  EXPECT_TRUE(values_near(nn::LogSoftmax()(values({1000, 0}, {1, 2})), {0, -1000}, {1, 2}));
}

// ---------------------------------------------------------------- Embedding
TEST(Embedding, LooksUpRowsAndAccumulatesGradients) {
  nn::Embedding emb(4, 2);
  set(emb->weight, values({0, 0.5f, 1, 1.5f, 2, 2.5f, 3, 3.5f}, {4, 2}));
  Tensor idx = from_vector(std::vector<int64_t>{0, 2, 1, 0}, {2, 2});
  Tensor y = emb(idx);
  EXPECT_TRUE(values_near(y, {0, 0.5, 2, 2.5, 1, 1.5, 0, 0.5}, {2, 2, 2}));
  sum(y).backward();
  // row 0 is looked up twice, row 3 never
  EXPECT_TRUE(values_near(emb->weight.grad(), {2, 2, 1, 1, 1, 1, 0, 0}, {4, 2}));
}

TEST(Embedding, PaddingIndexIsZeroAndGetsNoGradient) {
  manual_seed(3);
  nn::Embedding emb(3, 2, {.padding_idx = 1});
  EXPECT_TRUE(values_near(emb->weight.select(0, 1), {0, 0}, {2}));
  sum(emb(from_vector(std::vector<int64_t>{1, 0, 1}, {3}))).backward();
  EXPECT_TRUE(values_near(emb->weight.grad(), {1, 1, 0, 0, 0, 0}, {3, 2}));
  // a padding index below -1 counts from the end (-1 means none)
  nn::Embedding last(3, 2, {.padding_idx = -2});
  EXPECT_EQ(last->options.padding_idx, 1);
  EXPECT_THROW(nn::Embedding(3, 2, {.padding_idx = 3}), ValueError);
}

}  // namespace
