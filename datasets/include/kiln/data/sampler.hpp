// Samplers: the order in which a DataLoader visits a map-style data set (torch.utils.data's).
#pragma once

#include <kiln/tensor.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace kiln::data {

class Sampler {
 public:
  virtual ~Sampler() = default;
  // Chooses the epoch whose order indices() returns (random samplers reshuffle per epoch).
  virtual void set_epoch(int64_t epoch) { epoch_ = epoch; }
  int64_t epoch() const { return epoch_; }
  // The indices for the current epoch, in visiting order.
  virtual std::vector<int64_t> indices() const = 0;
  // How many indices() returns.
  virtual int64_t size() const = 0;

 protected:
  int64_t epoch_ = 0;
};
using SamplerPtr = std::shared_ptr<Sampler>;

// 0, 1, ..., n-1.
class SequentialSampler : public Sampler {
 public:
  explicit SequentialSampler(int64_t n);
  std::vector<int64_t> indices() const override;
  int64_t size() const override { return n_; }

 private:
  int64_t n_;
};

struct RandomSamplerOptions {
  uint64_t seed = 0;
  bool replacement = false;
  int64_t num_samples = -1;  // -1: n (without replacement, at most n)
};
// A fresh permutation of 0..n-1 each epoch, drawn from epoch_seed(seed, epoch); with replacement,
// num_samples independent uniform draws.
class RandomSampler : public Sampler {
 public:
  explicit RandomSampler(int64_t n, RandomSamplerOptions options = {});
  std::vector<int64_t> indices() const override;
  int64_t size() const override { return num_samples_; }

 private:
  int64_t n_;
  RandomSamplerOptions options_;
  int64_t num_samples_;
};

// num_samples indices drawn with probability proportional to weights (not necessarily summing to
// 1; none negative, not all zero). Without replacement, num_samples <= the count of non-zero weights.
class WeightedRandomSampler : public Sampler {
 public:
  WeightedRandomSampler(std::vector<double> weights, int64_t num_samples, bool replacement = true, uint64_t seed = 0);
  std::vector<int64_t> indices() const override;
  int64_t size() const override { return num_samples_; }

 private:
  std::vector<double> cumulative_;
  int64_t num_samples_;
  bool replacement_;
  uint64_t seed_;
  std::vector<double> weights_;
};

struct DistributedSamplerOptions {
  bool shuffle = true;
  uint64_t seed = 0;  // every replica must use the same seed
  bool drop_last = false;
};
// The share of replica `rank` among num_replicas: the (shuffled) order is padded by repeating its
// start to a multiple of num_replicas (or trimmed, with drop_last) and replica r takes every
// num_replicas-th index from r, so replicas see disjoint shares of equal size.
class DistributedSampler : public Sampler {
 public:
  DistributedSampler(int64_t n, int64_t num_replicas, int64_t rank, DistributedSamplerOptions options = {});
  std::vector<int64_t> indices() const override;
  int64_t size() const override { return num_samples_; }

 private:
  int64_t n_, num_replicas_, rank_;
  DistributedSamplerOptions options_;
  int64_t num_samples_;
};

}  // namespace kiln::data
