// Losses against hand-computed values and gradients, for every reduction. Reference numbers were
// worked in float64 (checked against PyTorch 1.13); short ones are derived in the comments.
// Unreduced losses are differentiated with the upstream gradient 1, 2, 3, ... so that a gradient
// landing on the wrong element fails.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <kiln/nn/loss.hpp>
#include <utility>

#include "expect_values.hpp"

namespace {

using namespace kiln;
using kiln::testing::values;
using kiln::testing::values_near;
namespace F = kiln::nn::functional;
using F::Reduction;

// Loss of fn on a fresh leaf copy of input, and the gradient of the input.
std::pair<Tensor, Tensor> run(const Tensor& input, const std::function<Tensor(const Tensor&)>& fn) {
  Tensor leaf = input.clone().set_requires_grad();
  Tensor loss = fn(leaf);
  if (loss.dim() == 0) {
    loss.backward();
  } else {
    loss.backward(
        arange(1, static_cast<double>(loss.numel()) + 1, 1, {.dtype = loss.dtype()}).reshape(loss.shape()));
  }
  return {loss.detach(), leaf.grad()};
}

// Three samples, four classes.
Tensor logits() {
  return values({1, 2, 0.5f, -1, 0, -0.5f, 1.5f, 2, 3, 1, -2, 0.5f}, {3, 4});
}
Tensor targets() {
  return from_vector(std::vector<int64_t>{2, 0, 3}, {3});
}
Tensor class_weights() {
  return values({1, 2, 0.5f, 1.5f}, {4});
}

TEST(CrossEntropy, ClassIndicesEveryReduction) {
  Tensor x = logits(), t = targets();
  // sample 0: logsumexp(1, 2, 0.5, -1) = 2.495182, so -log p[2] = 2.495182 - 0.5 = 1.995182
  {
    auto [loss, grad] =
        run(x, [&](const Tensor& a) { return F::cross_entropy(a, t, {.reduction = Reduction::None}); });
    EXPECT_TRUE(values_near(loss, {1.995182, 2.601005, 2.702253}, Shape{3})) << "ce_none";
    EXPECT_TRUE(values_near(grad,
                            {0.2242078, 0.60946, -0.8640111, 0.03034323, -1.851602, 0.0900079, 0.6650734,
                             1.096521, 2.450664, 0.3316613, 0.01651244, -2.798837},
                            Shape{3, 4}))
        << "ce_none gradient";
  }
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) { return F::cross_entropy(a, t); });
    EXPECT_TRUE(values_near(loss, {2.432813}, Shape{})) << "ce_mean";
    EXPECT_TRUE(values_near(grad,
                            {0.07473594, 0.2031533, -0.2880037, 0.01011441, -0.3086003, 0.01500132, 0.1108456,
                             0.1827535, 0.272296, 0.03685125, 0.001834716, -0.3109819},
                            Shape{3, 4}))
        << "ce_mean gradient";
  }
  {
    auto [loss, grad] =
        run(x, [&](const Tensor& a) { return F::cross_entropy(a, t, {.reduction = Reduction::Sum}); });
    EXPECT_TRUE(values_near(loss, {7.29844}, Shape{})) << "ce_sum";
    EXPECT_TRUE(values_near(grad,
                            {0.2242078, 0.60946, -0.8640111, 0.03034323, -0.925801, 0.04500395, 0.3325367,
                             0.5482604, 0.8168879, 0.1105538, 0.005504147, -0.9329458},
                            Shape{3, 4}))
        << "ce_sum gradient";
  }
  // the loss layer is the same function
  EXPECT_TRUE(values_near(nn::CrossEntropyLoss()(x, t), {2.432813}, {}));
}

TEST(CrossEntropy, ClassWeights) {
  Tensor x = logits(), t = targets(), w = class_weights();
  // mean is normalised by the weights of the targets: (0.5 * 1.995182 + 2.601005 + 1.5 * 2.702253) / 3
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) { return F::cross_entropy(a, t, {.weight = w}); });
    EXPECT_TRUE(values_near(loss, {2.550659}, Shape{})) << "ce_w_mean";
    EXPECT_TRUE(values_near(grad,
                            {0.03736797, 0.1015767, -0.1440018, 0.005057205, -0.3086003, 0.01500132,
                             0.1108456, 0.1827535, 0.4084439, 0.05527688, 0.002752074, -0.4664729},
                            Shape{3, 4}))
        << "ce_w_mean gradient";
  }
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) {
      return F::cross_entropy(a, t, {.weight = w, .reduction = Reduction::None});
    });
    EXPECT_TRUE(values_near(loss, {0.9975909, 2.601005, 4.05338}, Shape{3})) << "ce_w_none";
    EXPECT_TRUE(values_near(grad,
                            {0.1121039, 0.30473, -0.4320055, 0.01517161, -1.851602, 0.0900079, 0.6650734,
                             1.096521, 3.675995, 0.4974919, 0.02476866, -4.198256},
                            Shape{3, 4}))
        << "ce_w_none gradient";
  }
}

TEST(CrossEntropy, LabelSmoothing) {
  Tensor x = logits(), t = targets(), w = class_weights();
  // (1 - 0.1) * nll + 0.1 / 4 * sum over classes of -log p
  {
    auto [loss, grad] =
        run(x, [&](const Tensor& a) { return F::cross_entropy(a, t, {.label_smoothing = 0.1}); });
    EXPECT_TRUE(values_near(loss, {2.39948}, Shape{})) << "ce_ls_mean";
    EXPECT_TRUE(values_near(grad,
                            {0.06640261, 0.19482, -0.2630037, 0.001781076, -0.2836003, 0.006667984, 0.1025122,
                             0.1744201, 0.2639626, 0.02851792, -0.006498618, -0.2859819},
                            Shape{3, 4}))
        << "ce_ls_mean gradient";
  }
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) {
      return F::cross_entropy(a, t, {.label_smoothing = 0.1, .reduction = Reduction::Sum});
    });
    EXPECT_TRUE(values_near(loss, {7.19844}, Shape{})) << "ce_ls_sum";
    EXPECT_TRUE(values_near(grad,
                            {0.1992078, 0.58446, -0.7890111, 0.005343229, -0.850801, 0.02000395, 0.3075367,
                             0.5232604, 0.7918879, 0.08555375, -0.01949585, -0.8579458},
                            Shape{3, 4}))
        << "ce_ls_sum gradient";
  }
  {
    auto [loss, grad] = run(
        x, [&](const Tensor& a) { return F::cross_entropy(a, t, {.weight = w, .label_smoothing = 0.2}); });
    EXPECT_TRUE(values_near(loss, {2.544564}, Shape{})) << "ce_ls_w_mean";
    EXPECT_TRUE(values_near(grad,
                            {0.03191169, 0.09871634, -0.1122024, -0.01842563, -0.2573637, -0.01758195,
                             0.1080545, 0.1668911, 0.3781625, 0.02010098, -0.005672996, -0.3925905},
                            Shape{3, 4}))
        << "ce_ls_w_mean gradient";
  }
}

TEST(CrossEntropy, IgnoreIndex) {
  Tensor x = logits(), t = from_vector(std::vector<int64_t>{2, 1, 3}, {3}), w = class_weights();
  // sample 1 is ignored: mean over the other two, (1.995182 + 2.702253) / 2; its gradient row is 0
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) { return F::cross_entropy(a, t, {.ignore_index = 1}); });
    EXPECT_TRUE(values_near(loss, {2.348718}, Shape{})) << "ce_ign_mean";
    EXPECT_TRUE(values_near(grad,
                            {0.1121039, 0.30473, -0.4320055, 0.01517161, 0, 0, 0, 0, 0.4084439, 0.05527688,
                             0.002752074, -0.4664729},
                            Shape{3, 4}))
        << "ce_ign_mean gradient";
  }
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) {
      return F::cross_entropy(a, t, {.ignore_index = 1, .reduction = Reduction::None});
    });
    EXPECT_TRUE(values_near(loss, {1.995182, 0, 2.702253}, Shape{3})) << "ce_ign_none";
    EXPECT_TRUE(values_near(
        grad,
        {0.2242078, 0.60946, -0.8640111, 0.03034323, 0, 0, 0, 0, 2.450664, 0.3316613, 0.01651244, -2.798837},
        Shape{3, 4}))
        << "ce_ign_none gradient";
  }
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) {
      return F::cross_entropy(a, t, {.weight = w, .ignore_index = 1, .label_smoothing = 0.1});
    });
    EXPECT_TRUE(values_near(loss, {2.522777}, Shape{})) << "ce_ign_w_ls_mean";
    EXPECT_TRUE(values_near(grad,
                            {0.05195975, 0.1502198, -0.1921532, -0.01002632, 0, 0, 0, 0, 0.5899548,
                             0.05653339, -0.002190691, -0.6442975},
                            Shape{3, 4}))
        << "ce_ign_w_ls_mean gradient";
  }
  // the default ignore_index is -100
  Tensor t100 = from_vector(std::vector<int64_t>{2, -100, 3}, {3});
  EXPECT_TRUE(values_near(F::cross_entropy(x, t100), {2.348718}, {}));
}

TEST(CrossEntropy, ProbabilityTargets) {
  Tensor x = logits(), w = class_weights();
  Tensor p = values({0.1f, 0.2f, 0.7f, 0, 0.5f, 0.5f, 0, 0, 0, 0, 0, 1}, {3, 4});
  // sample 0: -(0.1 * -1.495182 + 0.2 * -0.495182 + 0.7 * -1.995182) = 1.645182
  {
    auto [loss, grad] =
        run(x, [&](const Tensor& a) { return F::cross_entropy(a, p, {.reduction = Reduction::None}); });
    EXPECT_TRUE(values_near(loss, {1.645182, 2.851005, 2.702253}, Shape{3})) << "ce_prob_none";
    EXPECT_TRUE(values_near(grad,
                            {0.1242078, 0.40946, -0.5640111, 0.03034323, -0.8516021, -0.9099921, 0.6650734,
                             1.096521, 2.450664, 0.3316613, 0.01651244, -2.798837},
                            Shape{3, 4}))
        << "ce_prob_none gradient";
  }
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) { return F::cross_entropy(a, p); });
    EXPECT_TRUE(values_near(loss, {2.39948}, Shape{})) << "ce_prob_mean";
    EXPECT_TRUE(values_near(grad,
                            {0.04140261, 0.1364867, -0.1880037, 0.01011441, -0.1419337, -0.1516653, 0.1108456,
                             0.1827535, 0.272296, 0.03685125, 0.001834716, -0.3109819},
                            Shape{3, 4}))
        << "ce_prob_mean gradient";
  }
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) {
      return F::cross_entropy(a, p, {.weight = w, .label_smoothing = 0.1, .reduction = Reduction::Sum});
    });
    EXPECT_TRUE(values_near(loss, {9.306768}, Shape{})) << "ce_prob_w_ls_sum";
    EXPECT_TRUE(values_near(grad,
                            {0.08454496, 0.1324194, -0.2064699, -0.01049453, -0.3655565, -0.8836192,
                             0.4779917, 0.771184, 1.17991, 0.1130668, -0.004381383, -1.288595},
                            Shape{3, 4}))
        << "ce_prob_w_ls_sum gradient";
  }
}

TEST(CrossEntropy, SpatialTargets) {
  // [N, C, d] logits with [N, d] targets, as for per-pixel classes
  Tensor x = values({1, 0, 2, -1, 0.5f, 1, -1, 2, 0, 0, 1, 0.5f}, {2, 3, 2});
  Tensor t = from_vector(std::vector<int64_t>{0, 2, 1, 1}, {2, 2});
  {
    auto [loss, grad] =
        run(x, [&](const Tensor& a) { return F::cross_entropy(a, t, {.reduction = Reduction::None}); });
    EXPECT_TRUE(values_near(loss, {1.464369, 0.407606, 1.407606, 2.306356}, Shape{2, 2})) << "ce_kdim_none";
    EXPECT_TRUE(values_near(grad,
                            {-0.7687761, 0.4894569, 0.6285317, 0.1800611, 0.1402444, -0.6695181, 0.2700917,
                             2.944499, -2.265815, -3.601505, 1.995723, 0.6570065},
                            Shape{2, 3, 2}))
        << "ce_kdim_none gradient";
  }
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) { return F::cross_entropy(a, t); });
    EXPECT_TRUE(values_near(loss, {1.396484}, Shape{})) << "ce_kdim_mean";
    EXPECT_TRUE(values_near(grad,
                            {-0.192194, 0.06118212, 0.1571329, 0.02250764, 0.0350611, -0.08368976, 0.02250764,
                             0.1840312, -0.1888179, -0.2250941, 0.1663102, 0.04106291},
                            Shape{2, 3, 2}))
        << "ce_kdim_mean gradient";
  }
}

TEST(CrossEntropy, BadTargets) {
  EXPECT_THROW(F::cross_entropy(logits(), from_vector(std::vector<int64_t>{0, 4, 1}, {3})), IndexError);
  EXPECT_THROW(F::cross_entropy(logits(), from_vector(std::vector<int64_t>{0, 1}, {2})), ShapeError);
  EXPECT_THROW(F::cross_entropy(logits(), zeros({3, 3})), ShapeError);
  EXPECT_THROW(F::cross_entropy(logits(), targets(), {.label_smoothing = 1.5}), ValueError);
}

TEST(NLLLoss, PicksTheNegatedLogProbability) {
  Tensor lp = values({-1.495182f, -0.4951819f, -1.995182f, -3.495182f, -2.601005f, -3.101005f, -1.101005f,
                      -0.601005f, -0.2022534f, -2.202253f, -5.202253f, -2.702253f},
                     {3, 4});
  Tensor t = targets(), w = class_weights();
  // the gradient is -1 (times the upstream, or 1/N for the mean) at each target, 0 elsewhere
  {
    auto [loss, grad] =
        run(lp, [&](const Tensor& a) { return F::nll_loss(a, t, {.reduction = Reduction::None}); });
    EXPECT_TRUE(values_near(loss, {1.995182, 2.601005, 2.702253}, Shape{3})) << "nll_none";
    EXPECT_TRUE(values_near(grad, {0, 0, -1, 0, -2, 0, 0, 0, 0, 0, 0, -3}, Shape{3, 4}))
        << "nll_none gradient";
  }
  {
    auto [loss, grad] = run(lp, [&](const Tensor& a) { return F::nll_loss(a, t); });
    EXPECT_TRUE(values_near(loss, {2.432813}, Shape{})) << "nll_mean";
    EXPECT_TRUE(
        values_near(grad, {0, 0, -0.3333333, 0, -0.3333333, 0, 0, 0, 0, 0, 0, -0.3333333}, Shape{3, 4}))
        << "nll_mean gradient";
  }
  {
    auto [loss, grad] =
        run(lp, [&](const Tensor& a) { return F::nll_loss(a, t, {.reduction = Reduction::Sum}); });
    EXPECT_TRUE(values_near(loss, {7.29844}, Shape{})) << "nll_sum";
    EXPECT_TRUE(values_near(grad, {0, 0, -1, 0, -1, 0, 0, 0, 0, 0, 0, -1}, Shape{3, 4}))
        << "nll_sum gradient";
  }
  // weights 0.5 and 1.5 on the two kept samples: (0.5 * 1.995182 + 1.5 * 2.702253) / 2
  Tensor ti = from_vector(std::vector<int64_t>{2, 1, 3}, {3});
  {
    auto [loss, grad] =
        run(lp, [&](const Tensor& a) { return F::nll_loss(a, ti, {.weight = w, .ignore_index = 1}); });
    EXPECT_TRUE(values_near(loss, {2.525486}, Shape{})) << "nll_w_ign_mean";
    EXPECT_TRUE(values_near(grad, {0, 0, -0.25, 0, 0, 0, 0, 0, 0, 0, 0, -0.75}, Shape{3, 4}))
        << "nll_w_ign_mean gradient";
  }
  EXPECT_TRUE(values_near(nn::NLLLoss()(lp, t), {2.432813}, {}));
}

// Regression losses: input a, target b; element differences a - b = -0.5, 0, 1.5, 1.5, -0.3, 0.
Tensor reg_input() {
  return values({0.5f, -1, 2, 1.5f, 0, -0.2f}, {2, 3});
}
Tensor reg_target() {
  return values({1, -1, 0.5f, 0, 0.3f, -0.2f}, {2, 3});
}

TEST(MSELoss, EveryReduction) {
  Tensor x = reg_input(), b = reg_target();
  // squares 0.25, 0, 2.25, 2.25, 0.09, 0: sum 4.84, mean 0.806667; gradient 2 d / N
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) { return F::mse_loss(a, b, Reduction::None); });
    EXPECT_TRUE(values_near(loss, {0.25, 0, 2.25, 2.25, 0.09, 0}, Shape{2, 3})) << "mse_none";
    EXPECT_TRUE(values_near(grad, {-1, 0, 9, 12, -3, 0}, Shape{2, 3})) << "mse_none gradient";
  }
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) { return F::mse_loss(a, b); });
    EXPECT_TRUE(values_near(loss, {0.8066667}, Shape{})) << "mse_mean";
    EXPECT_TRUE(values_near(grad, {-0.1666667, 0, 0.5, 0.5, -0.1, 0}, Shape{2, 3})) << "mse_mean gradient";
  }
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) { return F::mse_loss(a, b, Reduction::Sum); });
    EXPECT_TRUE(values_near(loss, {4.84}, Shape{})) << "mse_sum";
    EXPECT_TRUE(values_near(grad, {-1, 0, 3, 3, -0.6, 0}, Shape{2, 3})) << "mse_sum gradient";
  }
  EXPECT_TRUE(values_near(nn::MSELoss(Reduction::Sum)(x, b), {4.84}, {}));
}

TEST(L1Loss, EveryReduction) {
  Tensor x = reg_input(), b = reg_target();
  // |d| sums to 3.8; the gradient is sign(d), 0 where d = 0
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) { return F::l1_loss(a, b, Reduction::None); });
    EXPECT_TRUE(values_near(loss, {0.5, 0, 1.5, 1.5, 0.3, 0}, Shape{2, 3})) << "l1_none";
    EXPECT_TRUE(values_near(grad, {-1, 0, 3, 4, -5, 0}, Shape{2, 3})) << "l1_none gradient";
  }
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) { return F::l1_loss(a, b); });
    EXPECT_TRUE(values_near(loss, {0.6333333}, Shape{})) << "l1_mean";
    EXPECT_TRUE(values_near(grad, {-0.1666667, 0, 0.1666667, 0.1666667, -0.1666667, 0}, Shape{2, 3}))
        << "l1_mean gradient";
  }
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) { return F::l1_loss(a, b, Reduction::Sum); });
    EXPECT_TRUE(values_near(loss, {3.8}, Shape{})) << "l1_sum";
    EXPECT_TRUE(values_near(grad, {-1, 0, 1, 1, -1, 0}, Shape{2, 3})) << "l1_sum gradient";
  }
}

TEST(SmoothL1Loss, EveryReductionAndBeta) {
  Tensor x = reg_input(), b = reg_target();
  // beta 1: 0.5 d^2 for |d| < 1 (0.125 for d = -0.5), |d| - 0.5 otherwise (1 for d = 1.5)
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) { return F::smooth_l1_loss(a, b, Reduction::None); });
    EXPECT_TRUE(values_near(loss, {0.125, 0, 1, 1, 0.045, 0}, Shape{2, 3})) << "sl1_none";
    EXPECT_TRUE(values_near(grad, {-0.5, 0, 3, 4, -1.5, 0}, Shape{2, 3})) << "sl1_none gradient";
  }
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) { return F::smooth_l1_loss(a, b); });
    EXPECT_TRUE(values_near(loss, {0.3616667}, Shape{})) << "sl1_mean";
    EXPECT_TRUE(values_near(grad, {-0.08333333, 0, 0.1666667, 0.1666667, -0.05, 0}, Shape{2, 3}))
        << "sl1_mean gradient";
  }
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) { return F::smooth_l1_loss(a, b, Reduction::Sum); });
    EXPECT_TRUE(values_near(loss, {2.17}, Shape{})) << "sl1_sum";
    EXPECT_TRUE(values_near(grad, {-0.5, 0, 1, 1, -0.3, 0}, Shape{2, 3})) << "sl1_sum gradient";
  }
  // beta 0.5: d = -0.5 is now on the linear side: 0.5 - 0.25 = 0.25
  {
    auto [loss, grad] =
        run(x, [&](const Tensor& a) { return F::smooth_l1_loss(a, b, Reduction::Mean, 0.5); });
    EXPECT_TRUE(values_near(loss, {0.4733333}, Shape{})) << "sl1_beta05_mean";
    EXPECT_TRUE(values_near(grad, {-0.1666667, 0, 0.1666667, 0.1666667, -0.1, 0}, Shape{2, 3}))
        << "sl1_beta05_mean gradient";
  }
  // beta 2: everything quadratic, 0.5 d^2 / 2 (0.5625 for d = 1.5)
  {
    auto [loss, grad] =
        run(x, [&](const Tensor& a) { return F::smooth_l1_loss(a, b, Reduction::None, 2.0); });
    EXPECT_TRUE(values_near(loss, {0.0625, 0, 0.5625, 0.5625, 0.0225, 0}, Shape{2, 3})) << "sl1_beta2_none";
    EXPECT_TRUE(values_near(grad, {-0.25, 0, 2.25, 3, -0.75, 0}, Shape{2, 3})) << "sl1_beta2_none gradient";
  }
  EXPECT_TRUE(values_near(nn::SmoothL1Loss(Reduction::Sum, 2.0)(x, b), {1.21}, {}));
  // beta 0 is L1
  EXPECT_TRUE(values_near(F::smooth_l1_loss(x, b, Reduction::Sum, 0.0), {3.8}, {}));
}

// Probabilities and soft targets for the binary losses.
Tensor probs() {
  return values({0.2f, 0.7f, 0.9f, 0.5f, 0.1f, 0.6f}, {2, 3});
}
Tensor binary_targets() {
  return values({0, 1, 1, 0, 1, 0.25f}, {2, 3});
}

TEST(BCELoss, EveryReductionAndWeights) {
  Tensor x = probs(), y = binary_targets();
  // -log(1 - 0.2) = 0.2231436, -log 0.7 = 0.3566749; gradient (x - y) / (x (1 - x))
  {
    auto [loss, grad] =
        run(x, [&](const Tensor& a) { return F::binary_cross_entropy(a, y, Tensor(), Reduction::None); });
    EXPECT_TRUE(
        values_near(loss, {0.2231436, 0.3566749, 0.1053605, 0.6931472, 2.302585, 0.8149245}, Shape{2, 3}))
        << "bce_none";
    EXPECT_TRUE(values_near(grad, {1.25, -2.857143, -3.333333, 8, -50, 8.75}, Shape{2, 3}))
        << "bce_none gradient";
  }
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) { return F::binary_cross_entropy(a, y); });
    EXPECT_TRUE(values_near(loss, {0.749306}, Shape{})) << "bce_mean";
    EXPECT_TRUE(
        values_near(grad, {0.2083333, -0.2380952, -0.1851852, 0.3333333, -1.666667, 0.2430556}, Shape{2, 3}))
        << "bce_mean gradient";
  }
  {
    auto [loss, grad] =
        run(x, [&](const Tensor& a) { return F::binary_cross_entropy(a, y, Tensor(), Reduction::Sum); });
    EXPECT_TRUE(values_near(loss, {4.495836}, Shape{})) << "bce_sum";
    EXPECT_TRUE(values_near(grad, {1.25, -1.428571, -1.111111, 2, -10, 1.458333}, Shape{2, 3}))
        << "bce_sum gradient";
  }
  Tensor w = values({1, 2, 0.5f, 1, 2, 0.5f}, {2, 3});
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) { return F::binary_cross_entropy(a, y, w); });
    EXPECT_TRUE(values_near(loss, {1.115826}, Shape{})) << "bce_w_mean";
    EXPECT_TRUE(
        values_near(grad, {0.2083333, -0.4761905, -0.09259259, 0.3333333, -3.333333, 0.1215278}, Shape{2, 3}))
        << "bce_w_mean gradient";
  }
  // log is clamped at -100, so certain wrong answers cost 100, not infinity
  EXPECT_TRUE(values_near(
      F::binary_cross_entropy(values({0, 1}, {2}), values({1, 0}, {2}), Tensor(), Reduction::None),
      {100, 100}, {2}));
}

TEST(BCEWithLogitsLoss, EveryReductionAndPosWeight) {
  Tensor x = values({-1.5f, 0.5f, 2, 0, -3, 1}, {2, 3}), y = binary_targets();
  // y = 0, x = -1.5: log(1 + e^-1.5) = 0.2014133; gradient sigmoid(x) - y
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) {
      return F::binary_cross_entropy_with_logits(a, y, Tensor(), Tensor(), Reduction::None);
    });
    EXPECT_TRUE(
        values_near(loss, {0.2014133, 0.474077, 0.126928, 0.6931472, 3.048587, 1.063262}, Shape{2, 3}))
        << "bcel_none";
    EXPECT_TRUE(values_near(grad, {0.1824255, -0.7550813, -0.3576088, 2, -4.762871, 2.886351}, Shape{2, 3}))
        << "bcel_none gradient";
  }
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) { return F::binary_cross_entropy_with_logits(a, y); });
    EXPECT_TRUE(values_near(loss, {0.9345691}, Shape{})) << "bcel_mean";
    EXPECT_TRUE(values_near(grad, {0.03040425, -0.06292344, -0.01986715, 0.08333333, -0.1587624, 0.08017643},
                            Shape{2, 3}))
        << "bcel_mean gradient";
  }
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) {
      return F::binary_cross_entropy_with_logits(a, y, Tensor(), Tensor(), Reduction::Sum);
    });
    EXPECT_TRUE(values_near(loss, {5.607414}, Shape{})) << "bcel_sum";
    EXPECT_TRUE(
        values_near(grad, {0.1824255, -0.3775407, -0.1192029, 0.5, -0.9525741, 0.4810586}, Shape{2, 3}))
        << "bcel_sum gradient";
  }
  // pos_weight p per column multiplies the positive term: -(p y log s + (1 - y) log(1 - s))
  Tensor pw = values({2, 0.5f, 3}, {3});
  {
    auto [loss, grad] =
        run(x, [&](const Tensor& a) { return F::binary_cross_entropy_with_logits(a, y, Tensor(), pw); });
    EXPECT_TRUE(values_near(loss, {0.7094282}, Shape{})) << "bcel_pw_mean";
    EXPECT_TRUE(values_near(grad, {0.03040425, -0.03146172, -0.05960146, 0.08333333, -0.07938118, 0.05776464},
                            Shape{2, 3}))
        << "bcel_pw_mean gradient";
  }
  Tensor w = values({1, 2, 0.5f}, {3});
  {
    auto [loss, grad] = run(x, [&](const Tensor& a) {
      return F::binary_cross_entropy_with_logits(a, y, w, pw, Reduction::None);
    });
    EXPECT_TRUE(
        values_near(loss, {0.2014133, 0.474077, 0.190392, 0.6931472, 3.048587, 0.6099463}, Shape{2, 3}))
        << "bcel_pw_w_none";
    EXPECT_TRUE(values_near(grad, {0.1824255, -0.7550813, -0.5364131, 2, -4.762871, 1.039764}, Shape{2, 3}))
        << "bcel_pw_w_none gradient";
  }
  // stable for large logits: 100 away from the target costs 100, the gradient is +-1
  Tensor big = values({100, -100}, {1, 2}), flipped = values({0, 1}, {1, 2});
  {
    auto [loss, grad] = run(big, [&](const Tensor& a) {
      return F::binary_cross_entropy_with_logits(a, flipped, Tensor(), Tensor(), Reduction::Sum);
    });
    EXPECT_TRUE(values_near(loss, {200}, Shape{})) << "bcel_big";
    EXPECT_TRUE(values_near(grad, {1, -1}, Shape{1, 2})) << "bcel_big gradient";
  }
  EXPECT_TRUE(values_near(nn::BCEWithLogitsLoss(Reduction::Mean, pw)(x, y), {0.7094282}, {}));
}

TEST(Losses, ShapeMismatchesAndReductionNames) {
  EXPECT_THROW(F::mse_loss(zeros({2, 3}), zeros({3, 2})), ShapeError);
  EXPECT_THROW(F::binary_cross_entropy_with_logits(zeros({2}), zeros({3})), ShapeError);
  EXPECT_EQ(F::reduction_from_name("sum"), Reduction::Sum);
  EXPECT_EQ(F::reduction_from_name("none"), Reduction::None);
  EXPECT_THROW(F::reduction_from_name("avg"), ValueError);
}

}  // namespace
