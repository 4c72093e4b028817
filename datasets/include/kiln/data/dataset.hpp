// Map-style and iterable data sets (torch.utils.data's Dataset, IterableDataset, Subset,
// ConcatDataset, random_split), and transforms applied per example.
//
// A map-style Dataset has size() examples, each fetched by get(i) as an Example{input, target}.
// get() must be safe to call from several threads at once: the DataLoader's workers do.
#pragma once

#include <kiln/tensor.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kiln::data {

// One sample: the model's input and its target (target may be undefined for unlabelled data).
struct Example {
  Tensor input;
  Tensor target;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Example i, 0 <= i < size(); IndexError outside. Thread-safe.
  virtual Example get(int64_t index) const = 0;
};
using DatasetPtr = std::shared_ptr<const Dataset>;

// A stream of examples of unknown length: start_epoch(e), then next() until it returns nothing.
class IterableDataset {
 public:
  virtual ~IterableDataset() = default;
  virtual void start_epoch(int64_t epoch) = 0;
  virtual std::optional<Example> next() = 0;
};
using IterableDatasetPtr = std::shared_ptr<IterableDataset>;

// Rows of in-memory tensors: example i is {inputs[i], targets[i]} (views, no copy).
class TensorDataset : public Dataset {
 public:
  // targets may be undefined; otherwise its first extent must equal inputs'.
  TensorDataset(Tensor inputs, Tensor targets = Tensor());
  int64_t size() const override { return inputs_.shape()[0]; }
  Example get(int64_t index) const override;

 private:
  Tensor inputs_, targets_;
};

// A function applied to each example as it is fetched (must be thread-safe).
using Transform = std::function<Example(Example)>;

// `base` with `transform` applied to every example it returns.
class MapDataset : public Dataset {
 public:
  MapDataset(DatasetPtr base, Transform transform);
  int64_t size() const override { return base_->size(); }
  Example get(int64_t index) const override { return transform_(base_->get(index)); }

 private:
  DatasetPtr base_;
  Transform transform_;
};

// map(ds, fn): MapDataset over ds. map_input applies fn to the input only.
DatasetPtr map(DatasetPtr base, Transform transform);
DatasetPtr map_input(DatasetPtr base, std::function<Tensor(const Tensor&)> fn);

// The examples of `base` at `indices`, in that order (indices may repeat).
class Subset : public Dataset {
 public:
  Subset(DatasetPtr base, std::vector<int64_t> indices);
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Example get(int64_t index) const override;
  const std::vector<int64_t>& indices() const { return indices_; }
  const DatasetPtr& base() const { return base_; }

 private:
  DatasetPtr base_;
  std::vector<int64_t> indices_;
};

// The data sets one after another.
class ConcatDataset : public Dataset {
 public:
  explicit ConcatDataset(std::vector<DatasetPtr> parts);
  int64_t size() const override { return offsets_.empty() ? 0 : offsets_.back(); }
  Example get(int64_t index) const override;

 private:
  std::vector<DatasetPtr> parts_;
  std::vector<int64_t> offsets_;  // offsets_[k] = examples in parts 0..k
};

// Splits base into disjoint random subsets of the given lengths (which must sum to its size), from
// a permutation drawn with `seed`: the same seed gives the same split.
std::vector<std::shared_ptr<Subset>> random_split(const DatasetPtr& base, const std::vector<int64_t>& lengths,
                                                  uint64_t seed = 0);
// The same with fractions summing to 1 (remainders go to the first parts, as PyTorch).
std::vector<std::shared_ptr<Subset>> random_split(const DatasetPtr& base, const std::vector<double>& fractions,
                                                  uint64_t seed = 0);

// A random permutation of 0..n-1 drawn from Generator(seed) (host-side Fisher-Yates).
std::vector<int64_t> random_permutation(int64_t n, uint64_t seed);
// The seed for epoch `epoch` of a run seeded with `seed` (so each epoch reshuffles).
uint64_t epoch_seed(uint64_t seed, int64_t epoch);

}  // namespace kiln::data
