// Default initialisation matches PyTorch's: the bounds are exact, the statistics are checked with
// tolerances of several standard errors (so a wrong law or a wrong fan fails, noise does not).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <kiln/nn/init.hpp>
#include <kiln/nn/layers.hpp>
#include <kiln/random.hpp>

#include "expect_values.hpp"

namespace {

using namespace kiln;
using kiln::testing::values_near;

struct Stats {
  double min, max, mean, std;
};
Stats stats(const Tensor& t) {
  std::vector<double> v = t.detach().to(DType::Float64).contiguous().to_vector<double>();
  Stats s{v[0], v[0], 0, 0};
  for (double e : v) {
    s.min = std::min(s.min, e);
    s.max = std::max(s.max, e);
    s.mean += e;
  }
  s.mean /= static_cast<double>(v.size());
  for (double e : v) s.std += (e - s.mean) * (e - s.mean);
  s.std = std::sqrt(s.std / static_cast<double>(v.size() - 1));
  return s;
}

// U(-bound, bound): inside the bound, reaching close to it, mean 0 and sd bound / sqrt(3).
void expect_uniform(const Tensor& t, double bound, const char* what) {
  SCOPED_TRACE(what);
  Stats s = stats(t);
  double n = static_cast<double>(t.numel());
  EXPECT_GE(s.min, -bound);
  EXPECT_LE(s.max, bound);
  // the extremes of n uniform draws sit about 2 bound / n from the ends (a too-narrow law fails)
  if (n >= 100) {
    double reach = std::min(0.2, 20.0 / n);
    EXPECT_LT(s.min, -bound * (1 - reach));
    EXPECT_GT(s.max, bound * (1 - reach));
  }
  double sd = bound / std::sqrt(3.0);
  EXPECT_NEAR(s.mean, 0.0, 5 * sd / std::sqrt(n));
  if (n >= 1000) {
    EXPECT_NEAR(s.std, sd, 0.05 * sd);
  }
}

TEST(DefaultInit, LinearIsKaimingUniformWithASqrt5) {
  manual_seed(1);
  nn::Linear fc(200, 100);
  // kaiming_uniform(a = sqrt 5): gain sqrt(2 / (1 + 5)), bound = sqrt 3 * gain / sqrt(fan_in) = 1 / sqrt(200)
  expect_uniform(fc->weight, 1.0 / std::sqrt(200.0), "weight");
  expect_uniform(fc->bias, 1.0 / std::sqrt(200.0), "bias");
  EXPECT_TRUE(fc->weight.requires_grad());
  EXPECT_TRUE(fc->bias.requires_grad());
}

TEST(DefaultInit, Conv2dFanInCountsTheKernelAndGroups) {
  manual_seed(2);
  nn::Conv2d conv(6, 16, 5);  // fan_in 6 * 5 * 5 = 150
  expect_uniform(conv->weight, 1.0 / std::sqrt(150.0), "weight");
  expect_uniform(conv->bias, 1.0 / std::sqrt(150.0), "bias");
  nn::Conv2d grouped(8, 32, 3, {.groups = 4});  // fan_in 8 / 4 * 3 * 3 = 18
  EXPECT_EQ(grouped->weight.shape(), (Shape{32, 2, 3, 3}));
  expect_uniform(grouped->weight, 1.0 / std::sqrt(18.0), "grouped weight");
  expect_uniform(grouped->bias, 1.0 / std::sqrt(18.0), "grouped bias");
  nn::Conv2d rect(3, 64, {1, 4});  // fan_in 12
  expect_uniform(rect->weight, 1.0 / std::sqrt(12.0), "1x4 weight");
}

TEST(DefaultInit, NormalizationIsOnesAndZeros) {
  nn::BatchNorm2d bn(3);
  EXPECT_TRUE(values_near(bn->weight, {1, 1, 1}, {3}, 0, 0));
  EXPECT_TRUE(values_near(bn->bias, {0, 0, 0}, {3}, 0, 0));
  EXPECT_TRUE(values_near(bn->running_mean, {0, 0, 0}, {3}, 0, 0));
  EXPECT_TRUE(values_near(bn->running_var, {1, 1, 1}, {3}, 0, 0));
  EXPECT_EQ(bn->num_batches_tracked.dtype(), DType::Int64);
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 0);
  EXPECT_TRUE(bn->weight.requires_grad());
  EXPECT_FALSE(bn->running_mean.requires_grad());
  nn::LayerNorm ln(Shape{2, 2});
  EXPECT_TRUE(values_near(ln->weight, {1, 1, 1, 1}, {2, 2}, 0, 0));
  EXPECT_TRUE(values_near(ln->bias, {0, 0, 0, 0}, {2, 2}, 0, 0));
}

TEST(DefaultInit, EmbeddingIsStandardNormal) {
  manual_seed(3);
  nn::Embedding emb(1000, 20);
  Stats s = stats(emb->weight);
  // 20,000 draws: the mean's standard error is 0.007, the sd's 0.005
  EXPECT_NEAR(s.mean, 0.0, 0.035);
  EXPECT_NEAR(s.std, 1.0, 0.025);
  EXPECT_LT(s.min, -3.5);  // a uniform or a truncated law would not reach this far
  EXPECT_GT(s.max, 3.5);
}

TEST(DefaultInit, SameSeedSameWeightsOtherSeedOtherWeights) {
  manual_seed(9);
  nn::Linear a(4, 3);
  manual_seed(9);
  nn::Linear b(4, 3);
  manual_seed(10);
  nn::Linear c(4, 3);
  EXPECT_TRUE(equal(a->weight, b->weight));
  EXPECT_TRUE(equal(a->bias, b->bias));
  EXPECT_FALSE(equal(a->weight, c->weight));
}

TEST(Init, FansAndGains) {
  EXPECT_EQ(nn::init::fans(empty({10, 4})), (std::pair<int64_t, int64_t>{4, 10}));
  EXPECT_EQ(nn::init::fans(empty({8, 3, 5, 5})), (std::pair<int64_t, int64_t>{75, 200}));
  EXPECT_THROW(nn::init::fans(empty({5})), ShapeError);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("relu"), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("tanh"), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("leaky_relu", std::sqrt(5.0)), std::sqrt(1.0 / 3.0));
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("linear"), 1.0);
  EXPECT_THROW(nn::init::calculate_gain("swish"), ValueError);
}

TEST(Init, XavierAndKaimingLaws) {
  manual_seed(4);
  Tensor w = empty({100, 300});
  nn::init::xavier_uniform_(w);  // sqrt(6 / (300 + 100))
  expect_uniform(w, std::sqrt(6.0 / 400.0), "xavier_uniform");
  nn::init::kaiming_uniform_(w, 0.0, "fan_in", "relu");  // sqrt(6 / fan_in)
  expect_uniform(w, std::sqrt(6.0 / 300.0), "kaiming_uniform relu");
  nn::init::kaiming_uniform_(w, 0.0, "fan_out", "relu");
  expect_uniform(w, std::sqrt(6.0 / 100.0), "kaiming_uniform fan_out");
  nn::init::kaiming_normal_(w, 0.0, "fan_in", "relu");  // sd sqrt(2 / fan_in)
  Stats s = stats(w);
  EXPECT_NEAR(s.std, std::sqrt(2.0 / 300.0), 0.02 * std::sqrt(2.0 / 300.0));
  EXPECT_NEAR(s.mean, 0.0, 0.001);
  nn::init::xavier_normal_(w, 2.0);  // sd 2 sqrt(2 / 400)
  EXPECT_NEAR(stats(w).std, 2.0 * std::sqrt(2.0 / 400.0), 0.02 * 2.0 * std::sqrt(2.0 / 400.0));
  nn::init::constant_(w, 0.25);
  EXPECT_EQ(stats(w).min, 0.25);
  EXPECT_EQ(stats(w).max, 0.25);
}

}  // namespace
