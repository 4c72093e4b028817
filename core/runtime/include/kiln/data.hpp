// The minimal data interface the training front (Model::fit) consumes. datasets/ builds the full
// Dataset/DataLoader machinery on it; TensorBatches serves tensors already in memory.
#pragma once

#include <kiln/random.hpp>
#include <kiln/tensor.hpp>

#include <cstdint>
#include <optional>

namespace kiln::data {

struct Batch {
  Tensor input;
  Tensor target;
};

// A re-iterable source of batches: start_epoch(e), then next() until it returns nothing.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual void start_epoch(int64_t epoch) = 0;
  virtual std::optional<Batch> next() = 0;
  // Batches per epoch, or -1 when unknown (iterable datasets).
  virtual int64_t num_batches() const = 0;
  // Samples per epoch, or -1 when unknown.
  virtual int64_t num_samples() const { return -1; }
};

struct TensorBatchesOptions {
  int64_t batch_size = 32;
  bool shuffle = false;
  bool drop_last = false;
  uint64_t seed = 0;  // shuffling draws from Generator(seed + epoch)
};

// Batches of rows of in-memory tensors (inputs [N, ...], targets [N, ...]).
class TensorBatches : public BatchSource {
 public:
  TensorBatches(Tensor inputs, Tensor targets, TensorBatchesOptions options = {});
  void start_epoch(int64_t epoch) override;
  std::optional<Batch> next() override;
  int64_t num_batches() const override;
  int64_t num_samples() const override { return inputs_.shape()[0]; }

 private:
  Tensor inputs_, targets_;
  TensorBatchesOptions options_;
  Tensor order_;
  int64_t cursor_ = 0;
};

}  // namespace kiln::data
