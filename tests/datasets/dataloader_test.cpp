#include <kiln/data/dataloader.hpp>

#include <kiln/error.hpp>
#include <kiln/ops.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

namespace kiln::data {
namespace {

// Example i: input [3] = {i, i, i}, target scalar i; optionally slow, counting calls in flight.
class CountingDataset : public Dataset {
 public:
  explicit CountingDataset(int64_t n, std::chrono::microseconds delay = {}) : n_(n), delay_(delay) {}
  int64_t size() const override { return n_; }
  Example get(int64_t i) const override {
    KILN_CHECK(i >= 0 && i < n_, IndexError, "index ", i);
    ++in_flight;
    ++calls;
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    if (i == fail_at) {
      --in_flight;
      throw ValueError("bad example " + std::to_string(i));
    }
    Example e{full({3}, static_cast<double>(i)), scalar_tensor(static_cast<double>(i), {.dtype = DType::Int64})};
    --in_flight;
    return e;
  }
  mutable std::atomic<int> in_flight{0};
  mutable std::atomic<int> calls{0};
  int64_t fail_at = -1;

 private:
  int64_t n_;
  std::chrono::microseconds delay_;
};

// Every batch's targets, in order, for one epoch.
std::vector<std::vector<int64_t>> epoch_targets(DataLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<std::vector<int64_t>> out;
  while (auto b = loader.next()) {
    EXPECT_EQ(b->input.dim(), 2);
    EXPECT_EQ(b->input.size(1), 3);
    auto t = b->target.to_vector<int64_t>();
    // The input rows agree with the targets.
    auto x = b->input.to_vector<float>();
    for (size_t k = 0; k < t.size(); ++k) EXPECT_EQ(x[3 * k], static_cast<float>(t[k]));
    out.push_back(std::move(t));
  }
  return out;
}

TEST(DefaultCollate, StacksInputsAndTargets) {
  std::vector<Example> ex;
  for (int i = 0; i < 4; ++i) ex.push_back({full({2, 3}, i), scalar_tensor(i, {.dtype = DType::Int64})});
  Batch b = default_collate(std::move(ex));
  EXPECT_EQ(b.input.shape(), Shape({4, 2, 3}));
  EXPECT_EQ(b.target.shape(), Shape({4}));
  EXPECT_EQ(b.target.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3}));
  std::vector<Example> bad{{zeros({2}), Tensor()}, {zeros({3}), Tensor()}};
  EXPECT_THROW(default_collate(std::move(bad)), ShapeError);
  std::vector<Example> unlabelled{{zeros({2}), Tensor()}, {ones({2}), Tensor()}};
  EXPECT_FALSE(default_collate(std::move(unlabelled)).target.defined());
}

TEST(DataLoader, SequentialBatchesAndCounts) {
  auto ds = std::make_shared<CountingDataset>(10);
  DataLoader keep(ds, {.batch_size = 4});
  EXPECT_EQ(keep.num_batches(), 3);
  EXPECT_EQ(keep.num_samples(), 10);
  auto batches = epoch_targets(keep, 0);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0], (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(batches[2], (std::vector<int64_t>{8, 9}));
  DataLoader drop(ds, {.batch_size = 4, .drop_last = true});
  EXPECT_EQ(drop.num_batches(), 2);
  EXPECT_EQ(drop.num_samples(), 8);
  EXPECT_EQ(epoch_targets(drop, 0).size(), 2u);
  EXPECT_THROW(DataLoader(ds, {.batch_size = 0}), ValueError);
}

TEST(DataLoader, SameOrderForAnyWorkerCount) {
  auto ds = std::make_shared<CountingDataset>(203);
  std::vector<std::vector<std::vector<int64_t>>> runs;
  for (int workers : {0, 1, 2}) {
    DataLoader loader(ds, {.batch_size = 16, .shuffle = true, .seed = 11, .num_workers = workers, .prefetch_factor = 2});
    auto e0 = epoch_targets(loader, 0);
    auto e1 = epoch_targets(loader, 1);
    EXPECT_NE(e0, e1) << "each epoch reshuffles";
    ASSERT_EQ(e0.size(), 13u);
    EXPECT_EQ(e0.back().size(), 203u % 16);
    e0.insert(e0.end(), e1.begin(), e1.end());
    runs.push_back(e0);
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_EQ(runs[0], runs[2]);
  // Every example once per epoch.
  std::vector<int64_t> all;
  for (size_t b = 0; b < 13; ++b) all.insert(all.end(), runs[0][b].begin(), runs[0][b].end());
  std::sort(all.begin(), all.end());
  for (int64_t i = 0; i < 203; ++i) ASSERT_EQ(all[static_cast<size_t>(i)], i);
}

TEST(DataLoader, ShutdownMidEpochWaitsForWorkersAndReleasesEverything) {
  auto ds = std::make_shared<CountingDataset>(4000, std::chrono::microseconds(300));
  auto start = std::chrono::steady_clock::now();
  {
    DataLoader loader(ds, {.batch_size = 8, .num_workers = 2, .prefetch_factor = 4});
    loader.start_epoch(0);
    ASSERT_TRUE(loader.next().has_value());
    ASSERT_TRUE(loader.next().has_value());
  }  // destroyed with batches in flight
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(ds->in_flight.load(), 0) << "a worker still runs after the loader was destroyed";
  EXPECT_EQ(ds.use_count(), 1) << "the loader leaked a reference to the data set";
  // At most the window (8 batches) plus the two consumed were fetched: nothing close to the epoch.
  EXPECT_LE(ds->calls.load(), 8 * (2 + 8 + 2));
  EXPECT_LT(seconds, 5.0);
}

TEST(DataLoader, RestartingAnEpochMidwayCancelsTheOldOne) {
  auto ds = std::make_shared<CountingDataset>(100, std::chrono::microseconds(100));
  DataLoader loader(ds, {.batch_size = 10, .shuffle = true, .seed = 3, .num_workers = 2});
  loader.start_epoch(0);
  auto first = loader.next()->target.to_vector<int64_t>();
  loader.start_epoch(0);  // restart: the same order from the beginning
  EXPECT_EQ(loader.next()->target.to_vector<int64_t>(), first);
  DataLoader serial(ds, {.batch_size = 10, .shuffle = true, .seed = 3});
  EXPECT_EQ(epoch_targets(serial, 0).front(), first);
}

TEST(DataLoader, WorkerErrorsReachTheConsumer) {
  auto ds = std::make_shared<CountingDataset>(40);
  ds->fail_at = 13;
  for (int workers : {0, 2}) {
    DataLoader loader(ds, {.batch_size = 5, .num_workers = workers});
    loader.start_epoch(0);
    ASSERT_TRUE(loader.next().has_value());
    ASSERT_TRUE(loader.next().has_value());
    EXPECT_THROW(loader.next(), ValueError) << "workers=" << workers;  // batch 2 holds example 13
    EXPECT_TRUE(loader.next().has_value());  // the loader goes on with batch 3
  }
}

TEST(DataLoader, CustomSamplerAndCollate) {
  auto ds = std::make_shared<CountingDataset>(10);
  auto sampler = std::make_shared<DistributedSampler>(10, 2, 1, DistributedSamplerOptions{.shuffle = false});
  int collated = 0;
  DataLoader loader(ds, {.batch_size = 2, .collate = [&](std::vector<Example>&& ex) {
                           ++collated;
                           return default_collate(std::move(ex));
                         },
                         .sampler = sampler});
  auto batches = epoch_targets(loader, 0);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0], (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(batches[2], (std::vector<int64_t>{9}));
  EXPECT_EQ(collated, 3);
}

class CountdownIterable : public IterableDataset {
 public:
  void start_epoch(int64_t) override { i_ = 0; }
  std::optional<Example> next() override {
    if (i_ >= 7) return std::nullopt;
    double v = static_cast<double>(i_++);
    return Example{full({2}, v), scalar_tensor(v, {.dtype = DType::Int64})};
  }

 private:
  int64_t i_ = 0;
};

TEST(DataLoader, IterableDataset) {
  DataLoader loader(std::make_shared<CountdownIterable>(), {.batch_size = 3});
  EXPECT_EQ(loader.num_batches(), -1);
  loader.start_epoch(0);
  std::vector<int64_t> sizes;
  while (auto b = loader.next()) sizes.push_back(b->input.size(0));
  EXPECT_EQ(sizes, (std::vector<int64_t>{3, 3, 1}));
  DataLoader drop(std::make_shared<CountdownIterable>(), {.batch_size = 3, .drop_last = true});
  drop.start_epoch(0);
  int n = 0;
  while (drop.next()) ++n;
  EXPECT_EQ(n, 2);
}

}  // namespace
}  // namespace kiln::data
