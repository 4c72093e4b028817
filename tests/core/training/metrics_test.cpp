// Metrics against values computed by hand (and, for the macro averages, scikit-learn's documented
// example: y_true = [0, 1, 2, 0, 1, 2], y_pred = [0, 2, 1, 0, 0, 1]).
#include <gtest/gtest.h>
#include <kiln/error.hpp>
#include <kiln/metrics.hpp>
#include <kiln/ops.hpp>

#include <vector>

namespace {

using namespace kiln;

Tensor f32(const std::vector<float>& v, const Shape& shape) { return from_vector(v, shape); }
Tensor i64(const std::vector<int64_t>& v) { return from_vector(v, Shape{static_cast<int64_t>(v.size())}); }

// One-hot scores for the given predicted classes (argmax picks them).
Tensor scores_for(const std::vector<int64_t>& classes, int64_t num_classes) {
  return cast(one_hot(i64(classes), num_classes), DType::Float32) * 0.8 + 0.1;
}

const std::vector<int64_t> kTrue{0, 1, 2, 0, 1, 2};
const std::vector<int64_t> kPred{0, 2, 1, 0, 0, 1};

TEST(Accuracy, ClassIndicesAccumulateOverBatches) {
  metrics::Accuracy acc;
  EXPECT_EQ(acc.name(), "accuracy");
  EXPECT_EQ(acc.result(), 0.0);
  Tensor pred = f32({0.1f, 0.9f, 0.8f, 0.2f, 0.3f, 0.7f, 0.6f, 0.4f}, {4, 2});  // classes 1 0 1 0
  acc.update(pred, i64({1, 1, 1, 0}));
  EXPECT_DOUBLE_EQ(acc.result(), 0.75);
  acc.update(pred, i64({1, 0, 1, 0}));
  EXPECT_DOUBLE_EQ(acc.result(), 7.0 / 8.0);
  acc.reset();
  EXPECT_EQ(acc.result(), 0.0);
  acc.update(pred, i64({0, 1, 0, 1}));
  EXPECT_DOUBLE_EQ(acc.result(), 0.0);
}

TEST(Accuracy, OneHotAndProbabilityTargets) {
  metrics::Accuracy acc;
  Tensor pred = f32({0.1f, 0.9f, 0.8f, 0.2f, 0.3f, 0.7f}, {3, 2});
  Tensor target = f32({0, 1, 0, 1, 0.2f, 0.8f}, {3, 2});  // classes 1 1 1
  acc.update(pred, target);
  EXPECT_DOUBLE_EQ(acc.result(), 2.0 / 3.0);
}

TEST(Accuracy, BinaryWithThreshold) {
  metrics::Accuracy probs;
  probs.update(f32({0.2f, 0.7f, 0.9f, 0.4f}, {4, 1}), f32({0, 1, 0, 0}, {4, 1}));  // predicted 0 1 1 0
  EXPECT_DOUBLE_EQ(probs.result(), 0.75);
  metrics::Accuracy logits({.threshold = 0.0});
  logits.update(f32({-1.0f, 0.5f, 2.0f, -0.1f}, {4}), i64({0, 1, 1, 1}));  // predicted 0 1 1 0
  EXPECT_DOUBLE_EQ(logits.result(), 0.75);
}

TEST(Accuracy, PerPixelClasses) {
  metrics::Accuracy acc;
  // [N=1, C=2, 2 positions]: position 0 -> class 0, position 1 -> class 1.
  Tensor pred = f32({0.9f, 0.1f, 0.1f, 0.9f}, {1, 2, 2});
  acc.update(pred, from_vector(std::vector<int64_t>{0, 0}, {1, 2}));
  EXPECT_DOUBLE_EQ(acc.result(), 0.5);
}

TEST(Accuracy, ShapeMismatchNamesTheMetric) {
  metrics::Accuracy acc;
  try {
    acc.update(f32({0.1f, 0.9f, 0.8f, 0.2f}, {2, 2}), i64({1, 0, 1}));
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("accuracy"), std::string::npos) << e.what();
  }
}

TEST(TopKAccuracy, CountsTargetsAmongTheKBest) {
  metrics::TopKAccuracy top2(2);
  EXPECT_EQ(top2.name(), "top_2_accuracy");
  Tensor pred = f32({0.5f, 0.3f, 0.2f, 0.0f,   // ranks: 0, 1, 2, 3
                     0.1f, 0.2f, 0.3f, 0.4f,   // ranks: 3, 2, 1, 0
                     0.25f, 0.25f, 0.25f, 0.25f},  // a tie: every class counts
                    {3, 4});
  top2.update(pred, i64({1, 0, 3}));  // hit, miss, hit
  EXPECT_DOUBLE_EQ(top2.result(), 2.0 / 3.0);
  metrics::TopKAccuracy top1(1);
  top1.update(pred, i64({0, 3, 2}));
  EXPECT_DOUBLE_EQ(top1.result(), 1.0);
}

TEST(PrecisionRecallF1, MacroAverageMatchesScikitLearn) {
  Tensor pred = scores_for(kPred, 3), target = i64(kTrue);
  metrics::Precision p;
  metrics::Recall r;
  metrics::F1 f1;
  for (metrics::Metric* m : std::vector<metrics::Metric*>{&p, &r, &f1}) m->update(pred, target);
  // class 0: p 2/3, r 1, f1 0.8; classes 1 and 2: 0.
  EXPECT_NEAR(p.result(), 2.0 / 9.0, 1e-12);
  EXPECT_NEAR(r.result(), 1.0 / 3.0, 1e-12);
  EXPECT_NEAR(f1.result(), 0.8 / 3.0, 1e-12);
}

TEST(PrecisionRecallF1, SplitBatchesGiveTheSameResult) {
  metrics::F1 whole, split;
  whole.update(scores_for(kPred, 3), i64(kTrue));
  split.update(scores_for({0, 2, 1}, 3), i64({0, 1, 2}));
  split.update(scores_for({0, 0, 1}, 3), i64({0, 1, 2}));
  EXPECT_NEAR(split.result(), whole.result(), 1e-12);
}

TEST(PrecisionRecallF1, MacroSkipsClassesNeverSeen) {
  // num_classes 4, class 3 never appears: averaged over classes 0..2 only.
  metrics::Precision p({.num_classes = 4});
  p.update(scores_for(kPred, 4), i64(kTrue));
  EXPECT_NEAR(p.result(), 2.0 / 9.0, 1e-12);
}

TEST(PrecisionRecallF1, Binary) {
  // probabilities [N, 1]: predicted 1 0 1 1 0, true 1 1 0 1 0 -> tp 2, fp 1, fn 1
  Tensor pred = f32({0.9f, 0.3f, 0.6f, 0.8f, 0.1f}, {5, 1});
  Tensor target = f32({1, 1, 0, 1, 0}, {5, 1});
  metrics::Precision p;
  metrics::Recall r;
  metrics::F1 f1;
  for (metrics::Metric* m : std::vector<metrics::Metric*>{&p, &r, &f1}) m->update(pred, target);
  EXPECT_NEAR(p.result(), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(r.result(), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(f1.result(), 2.0 / 3.0, 1e-12);
  // With macro averaging the negative class counts too: class 0 has tp 1, predicted 2, actual 2.
  metrics::Precision macro({.average = metrics::Average::Macro});
  macro.update(pred, target);
  EXPECT_NEAR(macro.result(), (2.0 / 3.0 + 0.5) / 2.0, 1e-12);
}

TEST(ConfusionMatrix, CountsAndAccuracy) {
  metrics::ConfusionMatrix cm(3);
  cm.update(scores_for(kPred, 3), i64(kTrue));
  Tensor m = cm.matrix();
  EXPECT_EQ(m.dtype(), DType::Int64);
  EXPECT_EQ(m.shape(), (Shape{3, 3}));
  EXPECT_EQ(m.to_vector<int64_t>(), (std::vector<int64_t>{2, 0, 0, 1, 0, 1, 0, 2, 0}));
  EXPECT_NEAR(cm.result(), 2.0 / 6.0, 1e-12);
  cm.update(scores_for({1}, 3), i64({1}));
  EXPECT_EQ(cm.matrix().to_vector<int64_t>(), (std::vector<int64_t>{2, 0, 0, 1, 1, 1, 0, 2, 0}));
  EXPECT_NEAR(cm.result(), 3.0 / 7.0, 1e-12);
  cm.reset();
  EXPECT_EQ(cm.matrix().to_vector<int64_t>(), std::vector<int64_t>(9, 0));
}

TEST(Mean, WeightedValues) {
  metrics::Mean m("loss");
  m.update_value(2.0);
  m.update_value(scalar_tensor(4.0), 3.0);
  EXPECT_DOUBLE_EQ(m.result(), (2.0 + 12.0) / 4.0);
  m.reset();
  m.update_value(f32({1, 2, 3, 6}, {4}));  // the mean of a larger tensor: 3
  EXPECT_DOUBLE_EQ(m.result(), 3.0);
}

TEST(Mean, OfAFunctionWeightsBySamples) {
  metrics::Mean mae("mae", [](const Tensor& p, const Tensor& t) { return mean(abs(p - t)); });
  mae.update(f32({1, 2}, {2, 1}), f32({0, 0}, {2, 1}));   // batch mean 1.5 over 2 samples
  mae.update(f32({4}, {1, 1}), f32({0}, {1, 1}));         // 4 over 1 sample
  EXPECT_DOUBLE_EQ(mae.result(), (1.5 * 2 + 4.0) / 3.0);
  metrics::Mean plain("mean_pred");
  plain.update(f32({1, 3}, {2}), Tensor());
  EXPECT_DOUBLE_EQ(plain.result(), 2.0);
}

TEST(MakeMetric, ByName) {
  EXPECT_EQ(metrics::make_metric("accuracy")->name(), "accuracy");
  EXPECT_EQ(metrics::make_metric("acc")->name(), "accuracy");
  EXPECT_EQ(metrics::make_metric("top_3_accuracy")->name(), "top_3_accuracy");
  EXPECT_EQ(metrics::make_metric("F1")->name(), "f1");
  EXPECT_THROW(metrics::make_metric("auc"), ValueError);
  metrics::MetricSpec spec = metrics::Recall();
  EXPECT_EQ(spec.ptr()->name(), "recall");
}

}  // namespace
