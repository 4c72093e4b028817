#include <kiln/autograd.hpp>
#include <kiln/error.hpp>
#include <kiln/metrics.hpp>
#include <kiln/ops.hpp>

#include <algorithm>
#include <cctype>

namespace kiln::metrics {
namespace {

// Class labels of a batch as two flat int64 tensors on pred's device.
struct Labels {
  Tensor pred, target;
  int64_t num_classes = 0;
  bool binary = false;
};

Labels to_labels(const Tensor& pred, const Tensor& target, double threshold, const std::string& metric) {
  KILN_CHECK(pred.defined() && target.defined(), ValueError, metric, ": update() needs a prediction and a target");
  KILN_CHECK(pred.dim() >= 1, ShapeError, metric, ": expected predictions [N] or [N, C, ...], got shape ",
             pred.shape());
  Labels out;
  Tensor t = target.device() == pred.device() ? target : target.to(pred.device());
  if (pred.dim() == 1 || pred.size(1) == 1) {
    out.binary = true;
    out.num_classes = 2;
    out.pred = cast(gt(pred.reshape({-1}), threshold), DType::Int64);
    t = t.reshape({-1});
    out.target = is_floating(t.dtype()) ? cast(gt(t, 0.5), DType::Int64) : cast(t, DType::Int64);
  } else {
    out.num_classes = pred.size(1);
    out.pred = argmax(pred, int64_t{1}).reshape({-1});
    if (t.shape() == pred.shape() && is_floating(t.dtype())) {
      out.target = argmax(t, int64_t{1}).reshape({-1});  // one-hot or probabilities
    } else {
      Shape expected = pred.shape();
      expected.erase(1);
      KILN_CHECK(t.shape() == expected || (t.numel() == expected.numel() && t.dim() == expected.size() + 1 &&
                                           t.size(1) == 1),
                 ShapeError, metric, ": predictions of shape ", pred.shape(), " need class indices of shape ",
                 expected, " or one-hot targets of shape ", pred.shape(), ", got ", t.shape());
      out.target = cast(t, DType::Int64).reshape({-1});
    }
  }
  KILN_CHECK(out.pred.numel() == out.target.numel(), ShapeError, metric, ": ", out.pred.numel(),
             " predictions but ", out.target.numel(), " targets (pred ", pred.shape(), ", target ", target.shape(), ")");
  return out;
}

Tensor accumulate(const Tensor& total, const Tensor& value) { return total.defined() ? total + value : value; }

Tensor count_of(const Tensor& mask) { return sum(cast(mask, DType::Float64)); }

}  // namespace

// ---------------------------------------------------------------- Accuracy
Accuracy::Accuracy(AccuracyOptions options, std::string name) : Metric(std::move(name)), options(options) {}

void Accuracy::reset() {
  correct_ = Tensor();
  count_ = 0;
}

void Accuracy::update(const Tensor& pred, const Tensor& target) {
  NoGradGuard no_grad;
  Labels l = to_labels(pred.detach(), target, options.threshold, name());
  correct_ = accumulate(correct_, count_of(eq(l.pred, l.target)));
  count_ += l.pred.numel();
}

double Accuracy::result() const { return count_ == 0 ? 0.0 : correct_.item<double>() / static_cast<double>(count_); }

// ---------------------------------------------------------------- TopKAccuracy
TopKAccuracy::TopKAccuracy(int64_t k, std::string name)
    : Metric(name.empty() ? "top_" + std::to_string(k) + "_accuracy" : std::move(name)), k(k) {
  KILN_CHECK(k >= 1, ValueError, "TopKAccuracy: k must be at least 1, got ", k);
}

void TopKAccuracy::reset() {
  correct_ = Tensor();
  count_ = 0;
}

void TopKAccuracy::update(const Tensor& pred_in, const Tensor& target) {
  NoGradGuard no_grad;
  Tensor pred = pred_in.detach();
  KILN_CHECK(pred.dim() == 2, ShapeError, name(), ": expected predictions [N, C], got shape ", pred.shape());
  Tensor t = target.device() == pred.device() ? target : target.to(pred.device());
  if (t.shape() == pred.shape() && is_floating(t.dtype())) {
    t = argmax(t, int64_t{1});
  } else {
    KILN_CHECK(t.numel() == pred.size(0), ShapeError, name(), ": predictions of shape ", pred.shape(),
               " need ", pred.size(0), " class indices, got target of shape ", t.shape());
    t = cast(t, DType::Int64).reshape({-1});
  }
  Tensor target_score = gather(pred, 1, t.unsqueeze(1));  // [N, 1]
  Tensor higher = sum(cast(gt(pred, target_score), DType::Float64), {1});
  correct_ = accumulate(correct_, count_of(lt(higher, static_cast<double>(k))));
  count_ += pred.size(0);
}

double TopKAccuracy::result() const {
  return count_ == 0 ? 0.0 : correct_.item<double>() / static_cast<double>(count_);
}

// ---------------------------------------------------------------- Precision, Recall, F1
ClassCountsMetric::ClassCountsMetric(ClassificationOptions options, std::string name)
    : Metric(std::move(name)), options(options) {}

void ClassCountsMetric::reset() {
  tp_ = predicted_ = actual_ = Tensor();
  binary_ = false;
}

void ClassCountsMetric::update(const Tensor& pred, const Tensor& target) {
  NoGradGuard no_grad;
  Labels l = to_labels(pred.detach(), target, options.threshold, name());
  int64_t classes = options.num_classes > 0 ? options.num_classes : l.num_classes;
  KILN_CHECK(!tp_.defined() || tp_.numel() == classes, ShapeError, name(), ": earlier batches had ", tp_.numel(),
             " classes, this one has ", classes, " (set ClassificationOptions::num_classes)");
  binary_ = l.binary;
  Tensor p = cast(one_hot(l.pred, classes), DType::Float64);
  Tensor t = cast(one_hot(l.target, classes), DType::Float64);
  tp_ = accumulate(tp_, sum(p * t, {0}));
  predicted_ = accumulate(predicted_, sum(p, {0}));
  actual_ = accumulate(actual_, sum(t, {0}));
}

double ClassCountsMetric::compute(Kind kind) const {
  if (!tp_.defined()) return 0.0;
  NoGradGuard no_grad;
  // Note [Metric division]: max(count, 1) instead of a division by zero keeps every intermediate
  // finite, so anomaly mode never fires on a class that was not predicted; tp is 0 there anyway.
  Tensor precision = tp_ / maximum(predicted_, ones_like(predicted_));
  Tensor recall = tp_ / maximum(actual_, ones_like(actual_));
  Tensor value = kind == Kind::Precision ? precision
                 : kind == Kind::Recall  ? recall
                                         : 2.0 * precision * recall / maximum(precision + recall, full_like(precision, 1e-300));
  bool binary = options.average == Average::Binary || (options.average == Average::Auto && binary_);
  if (binary) {
    KILN_CHECK(value.numel() >= 2, ValueError, name(), ": binary averaging needs at least 2 classes");
    return value.select(0, 1).item<double>();
  }
  Tensor seen = cast(gt(predicted_ + actual_, 0.0), DType::Float64);
  Tensor seen_count = sum(seen);
  return (sum(value * seen) / maximum(seen_count, ones_like(seen_count))).item<double>();
}

// ---------------------------------------------------------------- ConfusionMatrix
ConfusionMatrix::ConfusionMatrix(int64_t num_classes, ClassificationOptions options, std::string name)
    : Metric(std::move(name)), num_classes(num_classes), options(options) {
  KILN_CHECK(num_classes >= 2, ValueError, "ConfusionMatrix: needs at least 2 classes, got ", num_classes);
}

void ConfusionMatrix::reset() { counts_ = Tensor(); }

void ConfusionMatrix::update(const Tensor& pred, const Tensor& target) {
  NoGradGuard no_grad;
  Labels l = to_labels(pred.detach(), target, options.threshold, name());
  TensorOptions int64_on{.dtype = DType::Int64, .device = l.pred.device()};
  if (!counts_.defined()) counts_ = zeros({num_classes * num_classes}, int64_on);
  Tensor cell = l.target * scalar_tensor(static_cast<double>(num_classes), int64_on) + l.pred;
  counts_ = scatter_add(counts_, 0, cell, ones_like(cell));
}

Tensor ConfusionMatrix::matrix() const {
  if (!counts_.defined()) return zeros({num_classes, num_classes}, {.dtype = DType::Int64});
  return counts_.reshape({num_classes, num_classes});
}

double ConfusionMatrix::result() const {
  if (!counts_.defined()) return 0.0;
  NoGradGuard no_grad;
  Tensor diagonal = index_select(
      counts_, 0, arange(0, static_cast<double>(num_classes * num_classes), static_cast<double>(num_classes + 1),
                         {.dtype = DType::Int64, .device = counts_.device()}));
  Tensor totals = cast(stack({sum(diagonal), sum(counts_)}), DType::Float64);
  auto v = totals.to_vector<double>();  // one read-back for both numbers
  return v[1] == 0 ? 0.0 : v[0] / v[1];
}

// ---------------------------------------------------------------- Mean
Mean::Mean(std::string name, Fn fn) : Metric(std::move(name)), fn_(std::move(fn)) {}

void Mean::reset() {
  sum_ = Tensor();
  host_sum_ = 0;
  weight_ = 0;
}

void Mean::update(const Tensor& pred, const Tensor& target) {
  NoGradGuard no_grad;
  if (!fn_) {
    update_value(pred.detach(), static_cast<double>(pred.numel()));
    return;
  }
  Tensor value = fn_(pred.detach(), target);
  // Per-sample values count one each; a batch-reduced scalar counts once per sample of the batch,
  // so the result is the per-sample mean whatever the batch sizes.
  double weight = value.numel() > 1 ? static_cast<double>(value.numel())
                  : pred.dim() >= 1 ? static_cast<double>(pred.size(0))
                                    : 1.0;
  update_value(value, weight);
}

void Mean::update_value(const Tensor& value, double weight) {
  NoGradGuard no_grad;
  sum_ = accumulate(sum_, cast(mean(value.detach()), DType::Float64) * weight);
  weight_ += weight;
}

void Mean::update_value(double value, double weight) {
  host_sum_ += value * weight;
  weight_ += weight;
}

double Mean::result() const {
  if (weight_ == 0) return 0.0;
  double total = host_sum_ + (sum_.defined() ? sum_.item<double>() : 0.0);
  return total / weight_;
}

// ---------------------------------------------------------------- by name
MetricPtr make_metric(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  if (n == "accuracy" || n == "acc") return std::make_shared<Accuracy>();
  if (n == "precision") return std::make_shared<Precision>();
  if (n == "recall") return std::make_shared<Recall>();
  if (n == "f1") return std::make_shared<F1>();
  const std::string prefix = "top_", suffix = "_accuracy";
  if (n.size() > prefix.size() + suffix.size() && n.starts_with(prefix) && n.ends_with(suffix)) {
    std::string k = n.substr(prefix.size(), n.size() - prefix.size() - suffix.size());
    if (std::all_of(k.begin(), k.end(), [](unsigned char c) { return std::isdigit(c); }))
      return std::make_shared<TopKAccuracy>(std::stoll(k));
  }
  KILN_CHECK(false, ValueError, "unknown metric '", name,
             "'; known names: accuracy (acc), top_<k>_accuracy, precision, recall, f1");
  return nullptr;
}

}  // namespace kiln::metrics
