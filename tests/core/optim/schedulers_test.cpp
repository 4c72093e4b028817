// Learning-rate schedulers: the lr sequence of an SGD optimizer with lr 0.1, before the first
// step and after each scheduler step, against values worked from torch.optim.lr_scheduler's
// formulas (short ones derived in the comments; checked against PyTorch 1.13).
#include <gtest/gtest.h>

#include <cmath>
#include <kiln/optim.hpp>
#include <numbers>
#include <vector>

namespace {

using namespace kiln;

Tensor values1(double v) {
  return full({1}, v).set_requires_grad();
}

struct Fixture {
  Tensor p = zeros({1}).set_requires_grad();
  optim::SGD opt{{p}, 0.1};
};

// The optimizer's lr now and after each of `steps` scheduler steps (with metrics if given).
std::vector<double> lr_sequence(optim::Optimizer& opt, optim::LRScheduler& sched, int steps,
                                const std::vector<double>& metrics = {}) {
  std::vector<double> out{opt.lr()};
  for (int i = 0; i < steps; ++i) {
    opt.step();
    if (metrics.empty()) {
      sched.step();
    } else {
      sched.step(metrics[i]);
    }
    out.push_back(opt.lr());
  }
  return out;
}

void expect_sequence(const std::vector<double>& got, const std::vector<double>& expected) {
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], 1e-9 + 1e-7 * std::abs(expected[i])) << "at step " << i;
}

TEST(StepLR, HalvesEveryThreeEpochs) {
  Fixture f;
  optim::StepLR s(f.opt, 3, 0.5);
  expect_sequence(lr_sequence(f.opt, s, 10),
                  {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125});
  EXPECT_EQ(s.last_epoch(), 10);
  EXPECT_THROW(optim::StepLR(f.opt, 0), ValueError);
}

TEST(MultiStepLR, AtEachMilestoneInAnyOrder) {
  Fixture f;
  optim::MultiStepLR s(f.opt, {5, 2, 6}, 0.1);
  expect_sequence(lr_sequence(f.opt, s, 10),
                  {0.1, 0.1, 0.01, 0.01, 0.01, 0.001, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4});
}

TEST(ExponentialLR, GammaToTheEpoch) {
  Fixture f;
  optim::ExponentialLR s(f.opt, 0.9);
  std::vector<double> expected;
  for (int e = 0; e <= 10; ++e) expected.push_back(0.1 * std::pow(0.9, e));
  expect_sequence(lr_sequence(f.opt, s, 10), expected);
  EXPECT_NEAR(f.opt.lr(), 0.03486784401, 1e-12);
}

TEST(CosineAnnealingLR, DownToEtaMinAndBackUp) {
  Fixture f;
  optim::CosineAnnealingLR s(f.opt, 5, 0.01);
  // eta_min + (0.1 - eta_min) (1 + cos(pi e / 5)) / 2: e = 1 -> 0.01 + 0.09 * 0.904508 = 0.0914058
  expect_sequence(lr_sequence(f.opt, s, 10),
                  {0.1, 0.09140576475, 0.06890576475, 0.04109423525, 0.01859423525, 0.01, 0.01859423525,
                   0.04109423525, 0.06890576475, 0.09140576475, 0.1});
}

TEST(LinearLR, WarmUpThenHold) {
  Fixture f;
  optim::LinearLR s(f.opt, 0.25, 1.0, 4);
  // 0.1 * (0.25 + 0.75 e / 4), constant after e = 4
  expect_sequence(lr_sequence(f.opt, s, 6), {0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1, 0.1});
  EXPECT_THROW(optim::LinearLR(f.opt, 0.0), ValueError);
}

TEST(OneCycleLR, CosineUpThenDown) {
  Fixture f;
  optim::OneCycleLR s(f.opt, 1.0, 10);
  // starts at max_lr / 25 = 0.04, peaks at step 0.3 * 10 - 1 = 2, ends at 0.04 / 1e4 = 4e-6 at step 9
  expect_sequence(lr_sequence(f.opt, s, 9), {0.04, 0.52, 1, 0.950484632, 0.8117456539, 0.6112620219,
                                             0.3887419781, 0.1882583461, 0.04951936799, 4e-06});
  Fixture g;
  optim::OneCycleLR t(g.opt, 0.5, 8, 0.5, 10, 100);
  // up phase ends at step 3: step 1 = 0.05 + 0.45 (1 - cos(pi / 3)) / 2 = 0.1625
  expect_sequence(lr_sequence(g.opt, t, 7),
                  {0.05, 0.1625, 0.3875, 0.5, 0.4268499186, 0.25025, 0.0736500814, 0.0005});
}

TEST(OneCycleLR, CyclesMomentumOppositeToTheLr) {
  Tensor p = values1(1.0);
  optim::SGD sgd({p}, 0.1, {.momentum = 0.9});
  optim::OneCycleLR s(sgd, 1.0, 10);
  // 0.95 down to 0.85 at the lr's peak (step 2), back up to 0.95 at the end
  std::vector<double> momentum{sgd.param_groups()[0].options.at("momentum")};
  for (int i = 0; i < 9; ++i) {
    s.step();
    momentum.push_back(sgd.param_groups()[0].options.at("momentum"));
  }
  expect_sequence(momentum, {0.95, 0.9, 0.85, 0.8549515566, 0.8688255099, 0.8888739533, 0.9111260467,
                             0.9311744901, 0.9450484434, 0.95});
  // Adam cycles beta1
  optim::Adam adam({values1(0.0)}, 0.1);
  optim::OneCycleLR t(adam, 1.0, 8, 0.5, 25.0, 1e4, true, 0.8, 0.9);
  std::vector<double> beta1{adam.param_groups()[0].options.at("beta1")};
  for (int i = 0; i < 7; ++i) {
    t.step();
    beta1.push_back(adam.param_groups()[0].options.at("beta1"));
  }
  expect_sequence(beta1, {0.9, 0.875, 0.825, 0.8, 0.8146446609, 0.85, 0.8853553391, 0.9});
  // Adagrad has neither, unless cycling is off
  optim::Adagrad adagrad({values1(0.0)}, 0.1);
  EXPECT_THROW(optim::OneCycleLR(adagrad, 1.0, 10), ValueError);
  optim::OneCycleLR plain(adagrad, 1.0, 10, 0.3, 25.0, 1e4, false);
  EXPECT_NEAR(adagrad.lr(), 0.04, 1e-12);
}

TEST(OneCycleLR, TheOptimizerUsesTheCycledMomentum) {
  // SGD momentum 0.9 under OneCycleLR(max_lr 0.5, 4 steps): lrs 0.02, 0.5, 0.25..., momenta 0.95,
  // 0.85, ...; gradients 0.5, 0.2, -0.4 on p = 1
  Tensor p = values1(1.0);
  optim::SGD sgd({p}, 0.1, {.momentum = 0.9});
  optim::OneCycleLR s(sgd, 0.5, 4);
  for (double g : {0.5, 0.2, -0.4}) {
    p.set_grad(full({1}, g));
    sgd.step();
    s.step();
  }
  EXPECT_NEAR(p.item<float>(), 0.7063635588, 1e-6);
}

TEST(ReduceLROnPlateau, WaitsPatienceEpochsThenReduces) {
  Fixture f;
  optim::ReduceLROnPlateau s(f.opt, "min", 0.5, 2);
  // best 0.9 at epoch 2; three epochs without improvement (> patience 2) halve the lr, and so on
  std::vector<double> m{1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85};
  expect_sequence(lr_sequence(f.opt, s, 12, m),
                  {0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125});
  EXPECT_THROW(s.step(), ValueError);  // needs the metric
}

TEST(ReduceLROnPlateau, MinLrModeMaxAndThreshold) {
  Fixture f;
  optim::ReduceLROnPlateau s(f.opt, "min", 0.5, 0, 1e-4, 0.03);
  expect_sequence(lr_sequence(f.opt, s, 5, {1, 1, 1, 1, 1}), {0.1, 0.1, 0.05, 0.03, 0.03, 0.03});
  Fixture g;
  optim::ReduceLROnPlateau t(g.opt, "max", 0.1, 1, 0.01);
  // relative threshold: 0.6001 is not 1% better than 0.6, 0.7 is
  expect_sequence(lr_sequence(g.opt, t, 7, {0.5, 0.6, 0.6, 0.6001, 0.7, 0.7, 0.7}),
                  {0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001});
  EXPECT_THROW(optim::ReduceLROnPlateau(g.opt, "lowest"), ValueError);
}

TEST(Schedulers, ScaleEachGroupFromItsOwnInitialLr) {
  Tensor a = zeros({1}).set_requires_grad(), b = zeros({1}).set_requires_grad();
  optim::SGD opt({optim::ParamGroup{.params = {a}, .lr = 0.1}, optim::ParamGroup{.params = {b}, .lr = 0.01}},
                 0.1);
  optim::StepLR s(opt, 1, 0.5);
  s.step();
  s.step();
  ASSERT_EQ(s.get_last_lr().size(), 2u);
  EXPECT_NEAR(s.get_last_lr()[0], 0.025, 1e-12);
  EXPECT_NEAR(s.get_last_lr()[1], 0.0025, 1e-12);
  optim::CosineAnnealingLR c(opt, 4);  // base lrs are the groups' initial ones, not the current
  c.step();
  EXPECT_NEAR(opt.param_groups()[0].lr, 0.1 * (1 + std::cos(std::numbers::pi / 4)) / 2, 1e-12);
  EXPECT_NEAR(opt.param_groups()[1].lr, 0.01 * (1 + std::cos(std::numbers::pi / 4)) / 2, 1e-12);
}

}  // namespace
