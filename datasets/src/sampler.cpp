#include <kiln/data/sampler.hpp>

#include <kiln/data/dataset.hpp>
#include <kiln/error.hpp>
#include <kiln/random.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace kiln::data {

SequentialSampler::SequentialSampler(int64_t n) : n_(n) {
  KILN_CHECK(n >= 0, ValueError, "SequentialSampler: n must be >= 0, got ", n);
}

std::vector<int64_t> SequentialSampler::indices() const {
  std::vector<int64_t> out(static_cast<size_t>(n_));
  std::iota(out.begin(), out.end(), int64_t{0});
  return out;
}

RandomSampler::RandomSampler(int64_t n, RandomSamplerOptions options) : n_(n), options_(options) {
  KILN_CHECK(n >= 0, ValueError, "RandomSampler: n must be >= 0, got ", n);
  num_samples_ = options.num_samples < 0 ? n : options.num_samples;
  KILN_CHECK(options.replacement || num_samples_ <= n, ValueError, "RandomSampler: num_samples ", num_samples_,
             " exceeds the ", n, " examples (without replacement)");
  KILN_CHECK(!options.replacement || n > 0 || num_samples_ == 0, ValueError,
             "RandomSampler: cannot draw from an empty data set");
}

std::vector<int64_t> RandomSampler::indices() const {
  uint64_t seed = epoch_seed(options_.seed, epoch_);
  if (!options_.replacement) {
    std::vector<int64_t> order = random_permutation(n_, seed);
    order.resize(static_cast<size_t>(num_samples_));
    return order;
  }
  Generator gen(seed);
  std::vector<int64_t> out(static_cast<size_t>(num_samples_));
  for (auto& v : out) v = static_cast<int64_t>(gen.next_u64() % static_cast<uint64_t>(n_));
  return out;
}

WeightedRandomSampler::WeightedRandomSampler(std::vector<double> weights, int64_t num_samples, bool replacement,
                                             uint64_t seed)
    : num_samples_(num_samples), replacement_(replacement), seed_(seed), weights_(std::move(weights)) {
  KILN_CHECK(num_samples >= 0, ValueError, "WeightedRandomSampler: num_samples must be >= 0, got ", num_samples);
  double total = 0.0;
  int64_t nonzero = 0;
  for (size_t i = 0; i < weights_.size(); ++i) {
    KILN_CHECK(weights_[i] >= 0.0, ValueError, "WeightedRandomSampler: weight ", i, " is negative (", weights_[i], ")");
    total += weights_[i];
    nonzero += weights_[i] > 0.0;
    cumulative_.push_back(total);
  }
  KILN_CHECK(total > 0.0 || num_samples == 0, ValueError, "WeightedRandomSampler: the weights are all zero");
  KILN_CHECK(replacement || num_samples <= nonzero, ValueError, "WeightedRandomSampler: num_samples ", num_samples,
             " exceeds the ", nonzero, " non-zero weights (without replacement)");
}

std::vector<int64_t> WeightedRandomSampler::indices() const {
  Generator gen(epoch_seed(seed_, epoch_));
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(num_samples_));
  if (replacement_) {
    double total = cumulative_.back();
    for (int64_t k = 0; k < num_samples_; ++k) {
      double u = gen.next_double() * total;
      auto i = std::upper_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin();
      // u < total, so i < size, except for rounding at the very top: clamp to the last non-zero.
      while (i >= static_cast<int64_t>(cumulative_.size()) || weights_[static_cast<size_t>(i)] == 0.0) --i;
      out.push_back(i);
    }
    return out;
  }
  // Without replacement: Efraimidis-Spirakis keys u^(1/w), the num_samples largest win.
  std::vector<std::pair<double, int64_t>> keys;
  for (size_t i = 0; i < weights_.size(); ++i) {
    double u = gen.next_double();
    if (weights_[i] > 0.0) keys.emplace_back(std::pow(u, 1.0 / weights_[i]), static_cast<int64_t>(i));
  }
  std::partial_sort(keys.begin(), keys.begin() + num_samples_, keys.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first; });
  for (int64_t k = 0; k < num_samples_; ++k) out.push_back(keys[static_cast<size_t>(k)].second);
  return out;
}

DistributedSampler::DistributedSampler(int64_t n, int64_t num_replicas, int64_t rank, DistributedSamplerOptions options)
    : n_(n), num_replicas_(num_replicas), rank_(rank), options_(options) {
  KILN_CHECK(n >= 0, ValueError, "DistributedSampler: n must be >= 0, got ", n);
  KILN_CHECK(num_replicas >= 1, ValueError, "DistributedSampler: num_replicas must be >= 1, got ", num_replicas);
  KILN_CHECK(rank >= 0 && rank < num_replicas, ValueError, "DistributedSampler: rank ", rank,
             " is out of range for ", num_replicas, " replicas");
  num_samples_ = options.drop_last ? n / num_replicas : (n + num_replicas - 1) / num_replicas;
}

std::vector<int64_t> DistributedSampler::indices() const {
  std::vector<int64_t> order;
  if (options_.shuffle) {
    order = random_permutation(n_, epoch_seed(options_.seed, epoch_));
  } else {
    order.resize(static_cast<size_t>(n_));
    std::iota(order.begin(), order.end(), int64_t{0});
  }
  auto total = static_cast<size_t>(num_samples_ * num_replicas_);
  if (order.size() > total) {
    order.resize(total);
  } else {
    for (size_t k = 0; order.size() < total; ++k) order.push_back(order[k]);
  }
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(num_samples_));
  for (size_t k = static_cast<size_t>(rank_); k < total; k += static_cast<size_t>(num_replicas_)) out.push_back(order[k]);
  return out;
}

}  // namespace kiln::data
