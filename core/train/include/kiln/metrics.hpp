// Stateful metrics for Model::compile and for hand-written loops (keras.metrics' shape):
//   reset(); update(pred, target) per batch; result() at any time; name() is the log key.
//
// Accumulators live on the tensors' device and are updated with Kiln ops, so update() never reads
// a value back; result() reads back the one number it returns. `pred` is what the model outputs
// (logits or probabilities); `target` is what the batch carries. Neither needs grad: Model passes
// detached outputs.
#pragma once

#include <kiln/tensor.hpp>

#include <concepts>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace kiln::metrics {

class Metric {
 public:
  explicit Metric(std::string name) : name_(std::move(name)) {}
  virtual ~Metric() = default;
  // Forgets everything seen so far (fit calls it at the start of every epoch and of evaluate).
  virtual void reset() = 0;
  // Accumulates one batch. Throws ShapeError naming the metric when pred and target disagree.
  virtual void update(const Tensor& pred, const Tensor& target) = 0;
  // The value over every batch since reset(); 0 before the first update.
  virtual double result() const = 0;
  // The key in logs and History ("accuracy"; "val_accuracy" on validation data).
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

 private:
  std::string name_;
};
using MetricPtr = std::shared_ptr<Metric>;

// Fraction of correct predictions.
//  - pred [N, C, ...] with C > 1: the predicted class is argmax over axis 1; target holds class
//    indices [N, ...] (any integer dtype), or one-hot / probabilities shaped like pred.
//  - pred [N] or [N, 1]: binary; predicted class is pred > threshold (0.5 for probabilities, use
//    0.0 for logits); target holds 0/1 (> 0.5 counts as 1).
struct AccuracyOptions {
  double threshold = 0.5;
};
class Accuracy : public Metric {
 public:
  explicit Accuracy(AccuracyOptions options = {}, std::string name = "accuracy");
  void reset() override;
  void update(const Tensor& pred, const Tensor& target) override;
  double result() const override;
  AccuracyOptions options;

 private:
  Tensor correct_;     // device scalar (float64), summed over batches
  int64_t count_ = 0;  // known on the host from shapes
};

// A target counts as hit when fewer than k classes score strictly higher than it (ties favour the
// target, as Keras's in_top_k). pred [N, C]; target [N] indices or one-hot [N, C].
class TopKAccuracy : public Metric {
 public:
  explicit TopKAccuracy(int64_t k = 5, std::string name = "");  // default name "top_<k>_accuracy"
  void reset() override;
  void update(const Tensor& pred, const Tensor& target) override;
  double result() const override;
  int64_t k;

 private:
  Tensor correct_;
  int64_t count_ = 0;
};

// How Precision, Recall and F1 summarise per-class values.
enum class Average {
  Auto,    // Binary when pred has one column, else Macro
  Binary,  // the positive class (1) only
  Macro,   // unweighted mean over classes seen in target or prediction so far (scikit-learn's)
};
struct ClassificationOptions {
  Average average = Average::Auto;
  int64_t num_classes = 0;  // 0: pred's axis-1 extent (2 for binary)
  double threshold = 0.5;   // binary pred: class 1 when pred > threshold
};

// Shared machinery: per-class true-positive, predicted and actual counts on the device.
class ClassCountsMetric : public Metric {
 public:
  ClassCountsMetric(ClassificationOptions options, std::string name);
  void reset() override;
  void update(const Tensor& pred, const Tensor& target) override;
  ClassificationOptions options;

 protected:
  enum class Kind { Precision, Recall, F1 };
  double compute(Kind kind) const;
  Tensor tp_, predicted_, actual_;  // [C] float64
  bool binary_ = false;
};
// tp / (tp + fp); a class never predicted scores 0.
class Precision : public ClassCountsMetric {
 public:
  explicit Precision(ClassificationOptions options = {}, std::string name = "precision")
      : ClassCountsMetric(options, std::move(name)) {}
  double result() const override { return compute(Kind::Precision); }
};
// tp / (tp + fn); a class never present scores 0.
class Recall : public ClassCountsMetric {
 public:
  explicit Recall(ClassificationOptions options = {}, std::string name = "recall")
      : ClassCountsMetric(options, std::move(name)) {}
  double result() const override { return compute(Kind::Recall); }
};
// 2 p r / (p + r) per class (0 when p + r = 0), then averaged.
class F1 : public ClassCountsMetric {
 public:
  explicit F1(ClassificationOptions options = {}, std::string name = "f1")
      : ClassCountsMetric(options, std::move(name)) {}
  double result() const override { return compute(Kind::F1); }
};

// Counts of (true class, predicted class). result() is the accuracy (trace / total);
// matrix() the int64 [num_classes, num_classes] counts, rows = true class, columns = predicted.
class ConfusionMatrix : public Metric {
 public:
  explicit ConfusionMatrix(int64_t num_classes, ClassificationOptions options = {},
                           std::string name = "confusion_accuracy");
  void reset() override;
  void update(const Tensor& pred, const Tensor& target) override;
  double result() const override;
  Tensor matrix() const;
  int64_t num_classes;
  ClassificationOptions options;

 private:
  Tensor counts_;  // [C * C] int64
};

// Weighted mean of scalars. update(pred, target) feeds fn(pred, target) (e.g. a loss); without fn,
// it takes the mean of pred. update_value() adds any value directly.
class Mean : public Metric {
 public:
  using Fn = std::function<Tensor(const Tensor& pred, const Tensor& target)>;
  explicit Mean(std::string name = "mean", Fn fn = nullptr);
  void reset() override;
  void update(const Tensor& pred, const Tensor& target) override;
  // Adds value (a one-element tensor, or the mean of a larger one) with the given weight.
  void update_value(const Tensor& value, double weight = 1.0);
  void update_value(double value, double weight = 1.0);
  double result() const override;

 private:
  Fn fn_;
  Tensor sum_;           // device scalar, weighted sum
  double host_sum_ = 0;  // values given as doubles
  double weight_ = 0;
};

// A metric by name: "accuracy"/"acc", "top_5_accuracy" (any k), "precision", "recall", "f1".
// Throws ValueError listing the known names.
MetricPtr make_metric(const std::string& name);

// What Model::compile accepts as a metric: a Metric by value, a shared pointer to one, or a name.
class MetricSpec {
 public:
  template <typename M>
    requires std::derived_from<std::decay_t<M>, Metric>
  MetricSpec(M&& metric) : ptr_(std::make_shared<std::decay_t<M>>(std::forward<M>(metric))) {}  // NOLINT
  template <typename M>
    requires std::derived_from<M, Metric>
  MetricSpec(std::shared_ptr<M> metric) : ptr_(std::move(metric)) {}  // NOLINT
  MetricSpec(const std::string& name) : ptr_(make_metric(name)) {}  // NOLINT
  MetricSpec(const char* name) : ptr_(make_metric(name)) {}  // NOLINT
  const MetricPtr& ptr() const { return ptr_; }

 private:
  MetricPtr ptr_;
};

}  // namespace kiln::metrics
