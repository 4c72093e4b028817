// Seeded random numbers. Every random op draws from a Generator: a seed and a running counter
// offset into a Philox4x32-10 stream (see plugins/include/kiln/plugin/philox.h). Each element
// consumes one counter value, so every backend draws the same numbers for the same seed.
#pragma once

#include <kiln/tensor.hpp>

#include <cstdint>
#include <mutex>
#include <utility>

namespace kiln {

class Generator {
 public:
  explicit Generator(uint64_t seed = 67280421310721ull) : seed_(seed) {}
  void manual_seed(uint64_t seed);
  uint64_t seed() const;
  // The counter the next draw starts at; with seed(), the whole state (saved in checkpoints).
  uint64_t offset() const;
  void set_state(uint64_t seed, uint64_t offset);
  // Reserves n counter values; returns (seed, first counter).
  std::pair<uint64_t, uint64_t> reserve(uint64_t n);
  // One uniform double in [0, 1), for host-side decisions (shuffles, augmentations).
  double next_double();
  uint64_t next_u64();

 private:
  mutable std::mutex mutex_;
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The process-wide generator used when none is given.
Generator& default_generator();
// Seeds the default generator (torch.manual_seed).
void manual_seed(uint64_t seed);

// Uniform in [0, 1).
Tensor rand(const Shape& shape, const TensorOptions& options = {}, Generator* gen = nullptr);
// Standard normal.
Tensor randn(const Shape& shape, const TensorOptions& options = {}, Generator* gen = nullptr);
// Integers uniform in [low, high); dtype int64 by default.
Tensor randint(int64_t low, int64_t high, const Shape& shape,
               const TensorOptions& options = {.dtype = DType::Int64}, Generator* gen = nullptr);
// A random permutation of 0..n-1 (int64).
Tensor randperm(int64_t n, Generator* gen = nullptr, const std::optional<Device>& device = {});
// In-place fills.
Tensor& uniform_(Tensor& t, double low = 0.0, double high = 1.0, Generator* gen = nullptr);
Tensor& normal_(Tensor& t, double mean = 0.0, double std = 1.0, Generator* gen = nullptr);
// A tensor of t's shape/dtype with 1 where a draw < p, else 0.
Tensor bernoulli(const Tensor& like, double p, Generator* gen = nullptr);

}  // namespace kiln
