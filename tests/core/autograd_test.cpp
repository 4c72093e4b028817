// The autograd engine: accumulation, retain_graph, no-grad, detach, grad(), hooks, retain_grad
// and anomaly mode.
#include <gtest/gtest.h>
#include <kiln/autograd.hpp>
#include <kiln/ops.hpp>
#include <kiln/tensor.hpp>

#include <cmath>
#include <string>
#include <vector>

namespace {

using kiln::Tensor;

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }
Tensor vec(std::vector<double> v) { return kiln::from_vector<double>(v); }
Tensor param(std::vector<double> v) { return vec(std::move(v)).set_requires_grad(); }

template <typename E, typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected an exception";
  return {};
}

TEST(core_autograd, AccumulatesOverTwoBackwardCalls) {
  Tensor x = param({1, 2, 3});
  EXPECT_TRUE(x.is_leaf());
  EXPECT_FALSE(x.grad().defined());
  kiln::sum(x * x).backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{2, 4, 6}));
  kiln::sum(x * 3.0).backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{5, 7, 9}));
  x.set_grad(Tensor());
  kiln::sum(x).backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{1, 1, 1}));
}

TEST(core_autograd, BroadcastGradientsAreSummedBack) {
  Tensor a = kiln::zeros({2, 3}, {.dtype = kiln::kFloat64}).set_requires_grad();
  Tensor b = param({1, 2, 3});
  kiln::sum(kiln::mul(a + b, 2.0)).backward();
  EXPECT_EQ(values(b.grad()), (std::vector<double>{4, 4, 4}));
  EXPECT_EQ(a.grad().shape(), a.shape());
  EXPECT_EQ(values(a.grad()), std::vector<double>(6, 2.0));
}

TEST(core_autograd, DiamondGraph) {
  Tensor x = param({2});
  Tensor a = x + 1.0, b = x * 2.0;
  (a * b).sum().backward();  // d/dx (x + 1)(2x) = 4x + 2
  EXPECT_EQ(values(x.grad()), (std::vector<double>{10}));
}

TEST(core_autograd, RetainGraph) {
  Tensor x = param({1, 2});
  Tensor y = kiln::sum(x * x);
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{4, 8}));
  std::string msg = error_of<kiln::Error>([&] { y.backward(); });
  EXPECT_NE(msg.find("second time"), std::string::npos) << msg;
  EXPECT_NE(msg.find("retain_graph"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'sum'"), std::string::npos) << msg;
}

TEST(core_autograd, BackwardArgumentErrors) {
  Tensor x = param({1, 2});
  Tensor y = x * 2.0;
  std::string msg = error_of<kiln::ValueError>([&] { y.backward(); });
  EXPECT_NE(msg.find("[2]"), std::string::npos) << msg;
  EXPECT_THROW(y.backward(vec({1, 1, 1})), kiln::ShapeError);
  y.backward(vec({1, 10}));
  EXPECT_EQ(values(x.grad()), (std::vector<double>{2, 20}));
  EXPECT_THROW(vec({1}).backward(), kiln::ValueError);
  EXPECT_THROW(y.set_requires_grad(false), kiln::ValueError);
  EXPECT_FALSE(kiln::argmax(x).requires_grad());  // integer outputs carry no gradient
}

TEST(core_autograd, NoGradGuard) {
  Tensor x = param({1, 2});
  EXPECT_TRUE(kiln::autograd::grad_enabled());
  {
    kiln::NoGradGuard guard;
    EXPECT_FALSE(kiln::autograd::grad_enabled());
    Tensor y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
    {
      kiln::NoGradGuard nested;
    }
    EXPECT_FALSE(kiln::autograd::grad_enabled());
  }
  EXPECT_TRUE(kiln::autograd::grad_enabled());
  Tensor z = x * 2.0;
  EXPECT_TRUE(z.requires_grad());
  ASSERT_NE(z.grad_fn(), nullptr);
  EXPECT_EQ(z.grad_fn()->name, "mul_scalar");
}

TEST(core_autograd, DetachStopsGradients) {
  Tensor x = param({1, 2, 3});
  Tensor c = (x * 2.0).detach();
  EXPECT_FALSE(c.requires_grad());
  EXPECT_TRUE(c.is_leaf());
  kiln::sum(c * x).backward();  // c is a constant: d/dx = c = 2x
  EXPECT_EQ(values(x.grad()), (std::vector<double>{2, 4, 6}));
}

TEST(core_autograd, GradFunction) {
  Tensor x = param({1, 2});
  Tensor w = param({3, 4});
  Tensor y = kiln::sum(x * w);
  auto g = kiln::grad({y}, {x, w}, {}, /*retain_graph=*/true);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(values(g[0]), (std::vector<double>{3, 4}));
  EXPECT_EQ(values(g[1]), (std::vector<double>{1, 2}));
  EXPECT_FALSE(x.grad().defined());  // grad() leaves .grad() alone
  Tensor unused = param({5});
  std::string msg = error_of<kiln::ValueError>([&] { kiln::grad({y}, {unused}, {}, true); });
  EXPECT_NE(msg.find("allow_unused"), std::string::npos) << msg;
  auto none = kiln::grad({y}, {x, unused}, {}, true, /*allow_unused=*/true);
  EXPECT_TRUE(none[0].defined());
  EXPECT_FALSE(none[1].defined());
  // An explicit output gradient weights the result.
  auto weighted = kiln::grad({x * 2.0}, {x}, {vec({1, -1})});
  EXPECT_EQ(values(weighted[0]), (std::vector<double>{2, -2}));
}

TEST(core_autograd, TensorHooks) {
  // A hook on a leaf replaces the gradient that is accumulated.
  Tensor x = param({1, 2});
  x.register_hook([](const Tensor& g) { return g * 2.0; });
  kiln::sum(x * 3.0).backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{6, 6}));

  // A hook on an intermediate changes what flows further back; returning undefined observes.
  Tensor a = param({1, 2});
  Tensor h = a * 2.0;
  std::vector<double> seen;
  h.register_hook([&](const Tensor& g) {
    seen = values(g);
    return Tensor();
  });
  h.register_hook([](const Tensor& g) { return g * 10.0; });
  kiln::sum(h * h).backward();  // dL/dh = 2h = [4, 8]; x10 -> [40, 80]; dh/da = 2
  EXPECT_EQ(seen, (std::vector<double>{4, 8}));
  EXPECT_EQ(values(a.grad()), (std::vector<double>{80, 160}));
  EXPECT_THROW(vec({1}).register_hook([](const Tensor& g) { return g; }), kiln::ValueError);
}

TEST(core_autograd, RetainGrad) {
  Tensor x = param({1, 2});
  Tensor h = x * 3.0;
  Tensor k = x * 4.0;
  h.retain_grad();
  kiln::sum(h * h + k).backward();
  ASSERT_TRUE(h.grad().defined());
  EXPECT_EQ(values(h.grad()), (std::vector<double>{6, 12}));  // 2h
  EXPECT_FALSE(k.grad().defined());                            // not retained
  EXPECT_EQ(values(x.grad()), (std::vector<double>{22, 40}));  // 2h*3 + 4
}

TEST(core_autograd, AnomalyModeNamesTheForwardOp) {
  Tensor neg = vec({-1.0, 4.0});
  // Off: NaN flows silently.
  EXPECT_TRUE(std::isnan(values(kiln::sqrt(neg))[0]));
  kiln::autograd::DetectAnomalyGuard guard;
  EXPECT_TRUE(kiln::autograd::anomaly_enabled());
  std::string msg = error_of<kiln::autograd::AnomalyError>([&] { kiln::sqrt(neg); });
  EXPECT_NE(msg.find("'sqrt'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2]"), std::string::npos) << msg;
  msg = error_of<kiln::autograd::AnomalyError>([&] { kiln::log(neg); });
  EXPECT_NE(msg.find("'log'"), std::string::npos) << msg;
  {
    kiln::autograd::LayerScope layer("features.3");
    msg = error_of<kiln::autograd::AnomalyError>([&] { kiln::log(neg); });
    EXPECT_NE(msg.find("features.3"), std::string::npos) << msg;
  }
  EXPECT_NO_THROW(kiln::sqrt(vec({4.0})));
}

TEST(core_autograd, AnomalyModeNamesTheBackwardOp) {
  kiln::autograd::DetectAnomalyGuard guard;
  Tensor x = param({0.0, 4.0});
  Tensor y = kiln::sum(kiln::sqrt(x));  // forward is finite; d sqrt(x)/dx at 0 is inf
  std::string msg = error_of<kiln::autograd::AnomalyError>([&] { y.backward(); });
  EXPECT_NE(msg.find("backward"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'sqrt'"), std::string::npos) << msg;
}

TEST(core_autograd, AnomalyGuardRestores) {
  EXPECT_FALSE(kiln::autograd::anomaly_enabled());
  {
    kiln::autograd::DetectAnomalyGuard guard;
    EXPECT_TRUE(kiln::autograd::anomaly_enabled());
  }
  EXPECT_FALSE(kiln::autograd::anomaly_enabled());
}

}  // namespace
