// DataLoader: batches a Dataset (shuffled with a seed, collated, prefetched by oneTBB workers) and
// serves them as a kiln::data::BatchSource, so Model::fit takes it directly.
//
//   auto train = std::make_shared<vision::FashionMNIST>(...);
//   data::DataLoader loader(train, {.batch_size = 64, .shuffle = true, .seed = 1, .num_workers = 2});
//   model.fit(loader, {.epochs = 5});
//
// Order: batch b of epoch e holds the sampler's indices [b*batch_size, (b+1)*batch_size) for epoch
// e, so the batches and their order are the same for any num_workers. With num_workers > 0, up to
// num_workers * prefetch_factor batches are fetched and collated ahead on a oneTBB arena of
// num_workers threads (at most TBB's worker threads: 1 on a 2-core machine); when the consumer
// needs a batch no worker has started, it makes it itself.
// Destroying the loader (or starting another epoch) mid-epoch cancels the batches not yet started
// and waits for the running ones: no hang, no leak. An exception thrown by get() or the collate
// function in a worker is rethrown by the next() that would have returned that batch.
#pragma once

#include <kiln/data.hpp>
#include <kiln/data/dataset.hpp>
#include <kiln/data/sampler.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace kiln::data {

using CollateFn = std::function<Batch(std::vector<Example>&& examples)>;

// Stacks inputs along a new axis 0, and targets likewise (scalar targets become [B]). Targets stay
// undefined when every example's is undefined. Throws ShapeError naming the first mismatching example.
Batch default_collate(std::vector<Example>&& examples);

struct DataLoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = false;  // RandomSampler(seed) when no sampler is given, else SequentialSampler
  bool drop_last = false;  // drop the last partial batch
  uint64_t seed = 0;
  int num_workers = 0;  // 0: fetch in the calling thread
  int prefetch_factor = 2;  // batches in flight per worker
  CollateFn collate;  // empty: default_collate
  SamplerPtr sampler;  // overrides shuffle and seed
  // Batches arrive on this device: each worker copies the batch it collated with
  // Tensor::to(device, /*non_blocking=*/true), on the device's side stream, so the copy of the
  // next batch overlaps the current step's kernels (a plain copy on host devices).
  std::optional<Device> device;
};

class DataLoader : public BatchSource {
 public:
  DataLoader(DatasetPtr dataset, DataLoaderOptions options = {});
  // Batches of an iterable data set, read in order in the calling thread (num_workers, shuffle and
  // sampler do not apply; num_batches() is -1).
  DataLoader(IterableDatasetPtr dataset, DataLoaderOptions options = {});
  ~DataLoader() override;
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;
  DataLoader(DataLoader&&) noexcept;
  DataLoader& operator=(DataLoader&&) noexcept;

  // Starts (or restarts) epoch `epoch`: asks the sampler for its order and, with workers, begins
  // prefetching. next() before any start_epoch starts epoch 0.
  void start_epoch(int64_t epoch) override;
  std::optional<Batch> next() override;
  int64_t num_batches() const override;
  int64_t num_samples() const override;

  const DataLoaderOptions& options() const;
  const DatasetPtr& dataset() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::data
