#include <kiln/data/dataset.hpp>

#include <kiln/error.hpp>
#include <kiln/random.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace kiln::data {

uint64_t epoch_seed(uint64_t seed, int64_t epoch) {
  // The same mixing as core's TensorBatches, so both reshuffle alike per epoch.
  return seed + static_cast<uint64_t>(epoch) * 0x9E3779B97F4A7C15ull;
}

std::vector<int64_t> random_permutation(int64_t n, uint64_t seed) {
  KILN_CHECK(n >= 0, ValueError, "random_permutation: n must be >= 0, got ", n);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  Generator gen(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    auto j = static_cast<int64_t>(gen.next_u64() % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

// ---------------------------------------------------------------- TensorDataset
TensorDataset::TensorDataset(Tensor inputs, Tensor targets) : inputs_(std::move(inputs)), targets_(std::move(targets)) {
  KILN_CHECK(inputs_.defined() && inputs_.dim() >= 1, ShapeError,
             "TensorDataset: inputs need a leading sample axis, got ",
             inputs_.defined() ? inputs_.shape().str() : std::string("an undefined tensor"));
  KILN_CHECK(!targets_.defined() || (targets_.dim() >= 1 && targets_.shape()[0] == inputs_.shape()[0]), ShapeError,
             "TensorDataset: ", inputs_.shape()[0], " inputs but targets of shape ",
             targets_.defined() ? targets_.shape().str() : std::string("undefined"));
}

Example TensorDataset::get(int64_t index) const {
  KILN_CHECK(index >= 0 && index < size(), IndexError, "TensorDataset: index ", index, " out of range for ", size(),
             " examples");
  return {inputs_.select(0, index), targets_.defined() ? targets_.select(0, index) : Tensor()};
}

// ---------------------------------------------------------------- MapDataset
MapDataset::MapDataset(DatasetPtr base, Transform transform) : base_(std::move(base)), transform_(std::move(transform)) {
  KILN_CHECK(base_ != nullptr, ValueError, "MapDataset: the base data set is null");
  KILN_CHECK(static_cast<bool>(transform_), ValueError, "MapDataset: the transform is empty");
}

DatasetPtr map(DatasetPtr base, Transform transform) {
  return std::make_shared<MapDataset>(std::move(base), std::move(transform));
}

DatasetPtr map_input(DatasetPtr base, std::function<Tensor(const Tensor&)> fn) {
  KILN_CHECK(static_cast<bool>(fn), ValueError, "map_input: the function is empty");
  return map(std::move(base), [fn = std::move(fn)](Example e) {
    e.input = fn(e.input);
    return e;
  });
}

// ---------------------------------------------------------------- Subset
Subset::Subset(DatasetPtr base, std::vector<int64_t> indices) : base_(std::move(base)), indices_(std::move(indices)) {
  KILN_CHECK(base_ != nullptr, ValueError, "Subset: the base data set is null");
  int64_t n = base_->size();
  for (size_t k = 0; k < indices_.size(); ++k)
    KILN_CHECK(indices_[k] >= 0 && indices_[k] < n, IndexError, "Subset: index ", indices_[k], " (position ", k,
               ") out of range for a data set of ", n, " examples");
}

Example Subset::get(int64_t index) const {
  KILN_CHECK(index >= 0 && index < size(), IndexError, "Subset: index ", index, " out of range for ", size(),
             " examples");
  return base_->get(indices_[static_cast<size_t>(index)]);
}

// ---------------------------------------------------------------- ConcatDataset
ConcatDataset::ConcatDataset(std::vector<DatasetPtr> parts) : parts_(std::move(parts)) {
  int64_t total = 0;
  for (size_t k = 0; k < parts_.size(); ++k) {
    KILN_CHECK(parts_[k] != nullptr, ValueError, "ConcatDataset: part ", k, " is null");
    total += parts_[k]->size();
    offsets_.push_back(total);
  }
}

Example ConcatDataset::get(int64_t index) const {
  KILN_CHECK(index >= 0 && index < size(), IndexError, "ConcatDataset: index ", index, " out of range for ", size(),
             " examples");
  auto part = static_cast<size_t>(std::upper_bound(offsets_.begin(), offsets_.end(), index) - offsets_.begin());
  int64_t start = part == 0 ? 0 : offsets_[part - 1];
  return parts_[part]->get(index - start);
}

// ---------------------------------------------------------------- random_split
std::vector<std::shared_ptr<Subset>> random_split(const DatasetPtr& base, const std::vector<int64_t>& lengths,
                                                  uint64_t seed) {
  KILN_CHECK(base != nullptr, ValueError, "random_split: the data set is null");
  int64_t total = 0;
  for (int64_t len : lengths) {
    KILN_CHECK(len >= 0, ValueError, "random_split: lengths must be >= 0, got ", len);
    total += len;
  }
  KILN_CHECK(total == base->size(), ValueError, "random_split: the lengths sum to ", total,
             " but the data set has ", base->size(), " examples");
  std::vector<int64_t> order = random_permutation(total, seed);
  std::vector<std::shared_ptr<Subset>> out;
  auto it = order.begin();
  for (int64_t len : lengths) {
    out.push_back(std::make_shared<Subset>(base, std::vector<int64_t>(it, it + len)));
    it += len;
  }
  return out;
}

std::vector<std::shared_ptr<Subset>> random_split(const DatasetPtr& base, const std::vector<double>& fractions,
                                                  uint64_t seed) {
  KILN_CHECK(base != nullptr, ValueError, "random_split: the data set is null");
  double sum = 0.0;
  for (double f : fractions) {
    KILN_CHECK(f >= 0.0 && f <= 1.0, ValueError, "random_split: fractions must be in [0, 1], got ", f);
    sum += f;
  }
  KILN_CHECK(std::abs(sum - 1.0) < 1e-6, ValueError, "random_split: fractions must sum to 1, they sum to ", sum);
  int64_t n = base->size();
  std::vector<int64_t> lengths;
  int64_t assigned = 0;
  for (double f : fractions) {
    lengths.push_back(static_cast<int64_t>(std::floor(f * static_cast<double>(n))));
    assigned += lengths.back();
  }
  for (size_t k = 0; assigned < n && !lengths.empty(); k = (k + 1) % lengths.size(), ++assigned) ++lengths[k];
  return random_split(base, lengths, seed);
}

}  // namespace kiln::data
