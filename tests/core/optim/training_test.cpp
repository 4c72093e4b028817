// Small networks trained in the PyTorch-style loop (zero_grad, forward, loss, backward, step),
// and reproducibility: the same seed gives bit-identical weights. The Keras-style Model has its
// own versions of these in tests/core/training/model_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <kiln/nn/layers.hpp>
#include <kiln/nn/loss.hpp>
#include <kiln/optim.hpp>
#include <kiln/random.hpp>
#include <map>
#include <numbers>

namespace {

using namespace kiln;
namespace F = kiln::nn::functional;

TEST(Training, MlpLearnsXorWithSgdMomentum) {
  manual_seed(3);
  Tensor x = from_vector(std::vector<float>{0, 0, 0, 1, 1, 0, 1, 1}, {4, 2});
  Tensor y = from_vector(std::vector<int64_t>{0, 1, 1, 0}, {4});
  nn::Sequential net{nn::Linear(2, 8), nn::Tanh(), nn::Linear(8, 2)};
  optim::SGD opt(net->parameters(), 0.2, {.momentum = 0.9});
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    opt.zero_grad();
    Tensor loss = F::cross_entropy(net(x), y);
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item<float>();
  }
  EXPECT_GT(first, 0.5);
  EXPECT_LT(last, 0.02);
  EXPECT_EQ(argmax(net(x), int64_t{1}).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 1, 0}));
}

TEST(Training, MlpSeparatesTwoSpirals) {
  // 2 x 100 points on two interleaved spirals of 1.5 turns
  std::vector<float> xs;
  std::vector<int64_t> ys;
  for (int cls = 0; cls < 2; ++cls)
    for (int i = 0; i < 100; ++i) {
      double r = 0.1 + 0.9 * i / 100.0, t = 3.0 * std::numbers::pi * i / 100.0 + std::numbers::pi * cls;
      xs.push_back(static_cast<float>(r * std::cos(t)));
      xs.push_back(static_cast<float>(r * std::sin(t)));
      ys.push_back(cls);
    }
  Tensor x = from_vector(xs, {200, 2}), y = from_vector(ys, {200});
  manual_seed(7);
  nn::Sequential net{nn::Linear(2, 32), nn::Tanh(), nn::Linear(32, 32), nn::Tanh(), nn::Linear(32, 2)};
  optim::Adam opt(net->parameters(), 0.05);
  optim::CosineAnnealingLR sched(opt, 250, 0.005);
  for (int step = 0; step < 250; ++step) {
    opt.zero_grad();
    F::cross_entropy(net(x), y).backward();
    optim::clip_grad_norm_(net->parameters(), 5.0);
    opt.step();
    sched.step();
  }
  Tensor correct = eq(argmax(net(x), int64_t{1}), y).to(DType::Float32);
  EXPECT_GT(mean(correct).item<float>(), 0.97) << "final loss " << F::cross_entropy(net(x), y).item<float>();
}

std::map<std::string, Tensor> train_once(uint64_t seed) {
  manual_seed(seed);
  Tensor x = randn({32, 4});
  Tensor y = argmax(x, int64_t{1});
  nn::Sequential net{nn::Linear(4, 16), nn::BatchNorm1d(16), nn::ReLU(), nn::Dropout(0.3), nn::Linear(16, 4)};
  optim::AdamW opt(net->parameters(), 0.01);
  for (int step = 0; step < 20; ++step) {
    Tensor idx = randperm(32).slice(0, 0, 8);  // a random mini-batch: the generator drives it too
    opt.zero_grad();
    F::cross_entropy(net(index_select(x, 0, idx)), index_select(y, 0, idx)).backward();
    opt.step();
  }
  return net->state_dict();
}

TEST(Training, SameSeedGivesBitIdenticalWeights) {
  auto a = train_once(42), b = train_once(42), c = train_once(43);
  ASSERT_EQ(a.size(), b.size());
  bool any_differs = false;
  for (auto& [name, t] : a) {
    EXPECT_TRUE(equal(t, b.at(name))) << name;
    any_differs = any_differs || !equal(t, c.at(name));
  }
  EXPECT_TRUE(any_differs);  // and another seed gives other weights
}

}  // namespace
