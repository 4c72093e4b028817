// Optimizers against hand-computed updates: three steps on p = [1, -2] with the gradients
// g1 = [0.5, -1], g2 = [0.2, 0.3], g3 = [-0.4, 0.1], set by hand. Expected values follow
// torch.optim's update rules (worked in the comments for the short ones, checked against PyTorch
// 1.13 in float64 for the rest), compared with float32 tolerances.
#include <gtest/gtest.h>

#include <functional>
#include <kiln/ops.hpp>
#include <kiln/optim.hpp>
#include <memory>

#include "expect_values.hpp"

namespace {

using namespace kiln;
using kiln::testing::values;
using kiln::testing::values_near;

const std::vector<std::vector<float>> kGrads = {{0.5f, -1.0f}, {0.2f, 0.3f}, {-0.4f, 0.1f}};

using Make = std::function<std::shared_ptr<optim::Optimizer>(std::vector<Tensor>)>;

// p after each of the three steps, flattened: [p1, p2, p3] as a [3, 2] tensor.
Tensor three_steps(const Make& make) {
  Tensor p = values({1, -2}, {2}).set_requires_grad();
  auto opt = make({p});
  std::vector<Tensor> after;
  for (auto& g : kGrads) {
    p.set_grad(values(g, {2}));
    opt->step();
    after.push_back(p.detach().clone());
  }
  return stack(after);
}

template <typename Opt, typename Options>
Make make(double lr, Options options) {
  return [=](std::vector<Tensor> params) { return std::make_shared<Opt>(std::move(params), lr, options); };
}

// ---------------------------------------------------------------- SGD
TEST(SGD, Plain) {
  // p1 = [1, -2] - 0.1 [0.5, -1] = [0.95, -1.9]; p2 = p1 - 0.1 [0.2, 0.3]; p3 = p2 - 0.1 [-0.4, 0.1]
  EXPECT_TRUE(values_near(three_steps(make<optim::SGD>(0.1, optim::SGDOptions{})),
                          {0.95, -1.9, 0.93, -1.93, 0.97, -1.94}, {3, 2}));
}

TEST(SGD, Momentum) {
  // buf1 = g1 (no dampening on the first step); buf2 = 0.9 [0.5, -1] + [0.2, 0.3] = [0.65, -0.6];
  // buf3 = 0.9 buf2 + g3 = [0.185, -0.44]; p -= 0.1 buf each step
  EXPECT_TRUE(values_near(three_steps(make<optim::SGD>(0.1, optim::SGDOptions{.momentum = 0.9})),
                          {0.95, -1.9, 0.885, -1.84, 0.8665, -1.796}, {3, 2}));
}

TEST(SGD, MomentumWithDampening) {
  // buf2 = 0.9 buf1 + (1 - 0.5) g2 = [0.55, -0.75]
  EXPECT_TRUE(
      values_near(three_steps(make<optim::SGD>(0.1, optim::SGDOptions{.momentum = 0.9, .dampening = 0.5})),
                  {0.95, -1.9, 0.895, -1.825, 0.8655, -1.7625}, {3, 2}));
}

TEST(SGD, Nesterov) {
  // step = g + 0.9 buf: step 1 = [0.5, -1] + 0.9 [0.5, -1] = [0.95, -1.9], p1 = [0.905, -1.81]
  EXPECT_TRUE(
      values_near(three_steps(make<optim::SGD>(0.1, optim::SGDOptions{.momentum = 0.9, .nesterov = true})),
                  {0.905, -1.81, 0.8265, -1.786, 0.84985, -1.7564}, {3, 2}));
  EXPECT_THROW(optim::SGD({values({1}, {1}).set_requires_grad()}, 0.1, {.nesterov = true}), ValueError);
  EXPECT_THROW(optim::SGD({values({1}, {1}).set_requires_grad()}, 0.1,
                          {.momentum = 0.9, .dampening = 0.1, .nesterov = true}),
               ValueError);
}

TEST(SGD, CopiesKeepTheirOwnLearningRate) {
  // The fused update keeps -lr in a one-element tensor; a copy (Model::compile takes optimizers by
  // value) must not share it: here the original's lr changes and the copy's must not follow.
  Tensor p = values({1, -2}, {2}).set_requires_grad();
  optim::SGD a({p}, 0.1);
  p.set_grad(values(kGrads[0], {2}));
  a.step();  // p = [0.95, -1.9]
  optim::SGD b = a;
  a.param_groups()[0].lr = 0.5;
  p.set_grad(values(kGrads[1], {2}));
  a.step();  // p -= 0.5 [0.2, 0.3] -> [0.85, -2.05]
  b.step();  // p -= 0.1 [0.2, 0.3] -> [0.83, -2.08]
  EXPECT_TRUE(values_near(p.detach(), {0.83, -2.08}, {2}));
}

TEST(SGD, WeightDecay) {
  // d = g + 0.1 p: d1 = [0.5 + 0.1, -1 - 0.2] = [0.6, -1.2], p1 = [0.94, -1.88]
  EXPECT_TRUE(values_near(three_steps(make<optim::SGD>(0.1, optim::SGDOptions{.weight_decay = 0.1})),
                          {0.94, -1.88, 0.9106, -1.8912, 0.941494, -1.882288}, {3, 2}));
  EXPECT_TRUE(
      values_near(three_steps(make<optim::SGD>(0.1, optim::SGDOptions{.momentum = 0.5, .weight_decay = 0.2})),
                  {0.93, -1.86, 0.8564, -1.7828, 0.842472, -1.718544}, {3, 2}));
}

// ---------------------------------------------------------------- Adam, AdamW
TEST(Adam, DefaultBetas) {
  // step 1: m-hat = g, v-hat = g^2, so p moves by lr * sign(g): p1 = [0.9, -1.9]
  EXPECT_TRUE(values_near(three_steps(make<optim::Adam>(0.1, optim::AdamOptions{})),
                          {0.9, -1.9, 0.810142484, -1.85721514, 0.792514598, -1.83038992}, {3, 2}));
}

TEST(Adam, L2WeightDecayIsAddedToTheGradient) {
  EXPECT_TRUE(values_near(three_steps(make<optim::Adam>(
                              0.1, optim::AdamOptions{.beta1 = 0.8, .beta2 = 0.9, .weight_decay = 0.1})),
                          {0.9, -1.9, 0.807697874, -1.84308815, 0.77846736, -1.79570599}, {3, 2}));
}

TEST(Adam, Amsgrad) {
  // With beta2 = 0.6 the second moment of p[1] falls after step 1 (g: -1, 0.3, 0.1); amsgrad keeps
  // its maximum, so p[1] moves less than without it.
  Tensor plain = three_steps(make<optim::Adam>(0.1, optim::AdamOptions{.beta1 = 0.5, .beta2 = 0.6}));
  Tensor ams =
      three_steps(make<optim::Adam>(0.1, optim::AdamOptions{.beta1 = 0.5, .beta2 = 0.6, .amsgrad = true}));
  EXPECT_TRUE(values_near(plain, {0.9, -1.9, 0.812942855, -1.87969635, 0.839688479, -1.87969635}, {3, 2}));
  EXPECT_TRUE(values_near(ams, {0.9, -1.9, 0.82410534, -1.88313452, 0.850850965, -1.88313452}, {3, 2}));
}

TEST(AdamW, DecoupledWeightDecay) {
  // p is first scaled by 1 - lr * wd (1 - 0.1 * 0.01), then takes the Adam step: p1[0] = 0.999 - 0.1
  EXPECT_TRUE(
      values_near(three_steps([](std::vector<Tensor> p) { return std::make_shared<optim::AdamW>(p, 0.1); }),
                  {0.899, -1.898, 0.808243484, -1.85331714, 0.789807355, -1.82463861}, {3, 2}));
  EXPECT_TRUE(values_near(three_steps(make<optim::AdamW>(0.1, optim::AdamOptions{.weight_decay = 0.5})),
                          {0.85, -1.8, 0.717642484, -1.66721514, 0.664132474, -1.55702917}, {3, 2}));
  EXPECT_EQ(optim::AdamW({values({1}, {1}).set_requires_grad()}).name(), "AdamW");
}

// ---------------------------------------------------------------- RMSprop
TEST(RMSprop, Plain) {
  // step 1: square_avg = 0.01 g^2, so p moves by lr g / (0.1 |g| + eps) = 10 lr sign(g) = 0.1
  EXPECT_TRUE(values_near(three_steps(make<optim::RMSprop>(0.01, optim::RMSpropOptions{})),
                          {0.9, -1.9, 0.862699835, -1.92886752, 0.922687642, -1.93849359}, {3, 2}));
  // alpha 0.9: p moves by lr / sqrt(0.1) = 0.316228 on step 1
  EXPECT_TRUE(values_near(three_steps(make<optim::RMSprop>(0.1, optim::RMSpropOptions{.alpha = 0.9})),
                          {0.683772254, -1.68377224, 0.560913238, -1.7791185, 0.761289286, -1.81243333},
                          {3, 2}));
}

TEST(RMSprop, MomentumCenteredAndWeightDecay) {
  EXPECT_TRUE(values_near(
      three_steps(make<optim::RMSprop>(0.1, optim::RMSpropOptions{.alpha = 0.9, .momentum = 0.5})),
      {0.683772254, -1.68377224, 0.402799365, -1.62100462, 0.462688969, -1.62293564}, {3, 2}));
  // centered, step 1: sqrt(0.1 g^2 - (0.1 g)^2) = 0.3 |g|, so p moves by 0.1 / 0.3
  EXPECT_TRUE(values_near(
      three_steps(make<optim::RMSprop>(0.1, optim::RMSpropOptions{.alpha = 0.9, .centered = true})),
      {0.666666689, -1.66666668, 0.532661656, -1.76379526, 0.733903747, -1.79747389}, {3, 2}));
  EXPECT_TRUE(values_near(
      three_steps(make<optim::RMSprop>(
          0.1, optim::RMSpropOptions{.alpha = 0.9, .weight_decay = 0.1, .momentum = 0.5, .centered = true})),
      {0.666666685, -1.66666668, 0.353213762, -1.53810832, 0.363719137, -1.45762845}, {3, 2}));
}

// ---------------------------------------------------------------- Adagrad
TEST(Adagrad, Plain) {
  // sum1 = g1^2: p moves by lr g / |g| = 0.1; sum2 = [0.29, 1.09]: p1 - 0.1 [0.2 / sqrt(0.29), 0.3 /
  // sqrt(1.09)]
  EXPECT_TRUE(values_near(three_steps(make<optim::Adagrad>(0.1, optim::AdagradOptions{})),
                          {0.9, -1.9, 0.862860932, -1.92873479, 0.922489412, -1.93826941}, {3, 2}));
}

TEST(Adagrad, LrDecayWeightDecayAndInitialAccumulator) {
  EXPECT_TRUE(values_near(
      three_steps(make<optim::Adagrad>(
          0.1,
          optim::AdagradOptions{.lr_decay = 0.5, .weight_decay = 0.1, .initial_accumulator_value = 0.2})),
      {0.919821627, -1.90629574, 0.895589037, -1.91196869, 0.913613252, -1.90842986}, {3, 2}));
}

// ---------------------------------------------------------------- groups, zero_grad, state
TEST(ParamGroups, EachGroupHasItsOwnLrAndOptions) {
  Tensor a = values({1, -2}, {2}).set_requires_grad(), b = values({3}, {1}).set_requires_grad();
  optim::ParamGroup slow{.params = {b}, .lr = 0.01, .options = {{"momentum", 0.9}}};
  optim::SGD opt({optim::ParamGroup{.params = {a}}, slow}, 0.1);
  ASSERT_EQ(opt.param_groups().size(), 2u);
  EXPECT_DOUBLE_EQ(opt.param_groups()[0].lr, 0.1);  // the default fills a group without an lr
  EXPECT_DOUBLE_EQ(opt.param_groups()[1].lr, 0.01);
  for (auto& g : kGrads) {
    a.set_grad(values(g, {2}));
    b.set_grad(values({g[0]}, {1}));
    opt.step();
  }
  EXPECT_TRUE(values_near(a, {0.97, -1.94}, {2}));  // plain SGD, lr 0.1
  // momentum 0.9, lr 0.01 on g = 0.5, 0.2, -0.4: bufs 0.5, 0.65, 0.185: 3 - 0.01 * 1.335
  EXPECT_TRUE(values_near(b, {2.98665}, {1}));
}

TEST(ParamGroups, EveryOptimizerTakesGroups) {
  auto run = [](auto make_opt) {
    Tensor a = values({1}, {1}).set_requires_grad(), b = values({1}, {1}).set_requires_grad();
    auto opt =
        make_opt(std::vector<optim::ParamGroup>{{.params = {a}, .lr = 0.1}, {.params = {b}, .lr = 0.01}});
    a.set_grad(values({1}, {1}));
    b.set_grad(values({1}, {1}));
    opt.step();
    // first steps of Adam, RMSprop and Adagrad move by a multiple of lr: the ratio is 10
    return (1.0 - a.item<float>()) / (1.0 - b.item<float>());
  };
  EXPECT_NEAR(run([](auto g) { return optim::Adam(g); }), 10.0, 1e-4);
  EXPECT_NEAR(run([](auto g) { return optim::AdamW(g); }), 10.0, 0.02);
  EXPECT_NEAR(run([](auto g) { return optim::RMSprop(g); }), 10.0, 1e-4);
  EXPECT_NEAR(run([](auto g) { return optim::Adagrad(g); }), 10.0, 1e-4);
}

TEST(Optimizer, ZeroGradClearsAndStepSkipsParametersWithoutGradients) {
  Tensor a = values({1, 2}, {2}).set_requires_grad(), b = values({3}, {1}).set_requires_grad();
  optim::SGD opt({a, b}, 0.5, {.momentum = 0.9});
  a.set_grad(values({1, 1}, {2}));
  b.set_grad(values({2}, {1}));
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  a.set_grad(values({1, 1}, {2}));
  opt.step();
  EXPECT_TRUE(values_near(a, {0.5, 1.5}, {2}));
  EXPECT_TRUE(values_near(b, {3}, {1}));                     // no gradient: untouched
  EXPECT_THROW(optim::SGD({mul(a, 2.0)}, 0.1), ValueError);  // not a leaf
  EXPECT_THROW(optim::SGD({a}, -0.1), ValueError);
}

TEST(Optimizer, StateDictResumesExactly) {
  // two Adam steps, save, a fresh optimizer loads the state and takes the third step
  Tensor p = values({1, -2}, {2}).set_requires_grad();
  optim::Adam first({p}, 0.1);
  for (int i = 0; i < 2; ++i) {
    p.set_grad(values(kGrads[i], {2}));
    first.step();
  }
  auto state = first.state_dict();
  EXPECT_TRUE(state.count("0.0.exp_avg"));
  EXPECT_TRUE(state.count("0.0.exp_avg_sq"));
  optim::Adam second({p}, 0.5);
  second.load_state_dict(state);
  EXPECT_DOUBLE_EQ(second.lr(), 0.1);
  p.set_grad(values(kGrads[2], {2}));
  second.step();
  EXPECT_TRUE(values_near(p, {0.792514598, -1.83038992}, {2}));
}

}  // namespace
