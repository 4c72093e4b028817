#include <kiln/data/dataloader.hpp>

#include <kiln/autograd.hpp>
#include <kiln/error.hpp>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>

namespace kiln::data {

// Note [DataLoader determinism and shutdown]
// Batch b of an epoch is a pure function of the epoch's index list and b, so whichever thread
// makes it (a worker or the consumer itself) the result and the order are the same for any
// num_workers. Each slot moves Pending -> Running -> Done exactly once; a worker or the consumer
// claims it with a compare-exchange, so a batch is never made twice and the consumer never waits
// on a batch nobody has started (no deadlock even when TBB lends the arena no thread at all).
// Cancelling (start_epoch mid-epoch, destruction) sets a flag that makes unstarted tasks return at
// once, then waits on the task group for the running ones.

namespace {
enum SlotState : int { kPending = 0, kRunning = 1, kDone = 2 };

struct Slot {
  std::atomic<int> state{kPending};
  std::optional<Batch> batch;
  std::exception_ptr error;
};
}  // namespace

struct DataLoader::Impl {
  DatasetPtr dataset;
  IterableDatasetPtr iterable;
  DataLoaderOptions options;
  SamplerPtr sampler;

  // The current epoch.
  bool started = false;
  std::vector<int64_t> order;  // the sampler's indices
  int64_t batches_in_epoch = 0;
  int64_t cursor = 0;  // next batch to return
  std::unique_ptr<Slot[]> slots;
  int64_t submitted = 0;  // batches handed to workers so far
  bool iterable_done = false;

  // Workers (only when options.num_workers > 0).
  std::unique_ptr<tbb::task_arena> arena;
  tbb::task_group group;
  std::atomic<bool> cancelled{false};
  std::mutex mutex;
  std::condition_variable done_cv;

  ~Impl() { cancel(); }

  int64_t count_batches(int64_t samples) const {
    int64_t b = options.batch_size;
    return options.drop_last ? samples / b : (samples + b - 1) / b;
  }

  Batch make(int64_t b) const {
    NoGradGuard no_grad;
    int64_t begin = b * options.batch_size;
    int64_t end = std::min<int64_t>(begin + options.batch_size, static_cast<int64_t>(order.size()));
    std::vector<Example> examples;
    examples.reserve(static_cast<size_t>(end - begin));
    for (int64_t k = begin; k < end; ++k) examples.push_back(dataset->get(order[static_cast<size_t>(k)]));
    return to_device(options.collate ? options.collate(std::move(examples)) : default_collate(std::move(examples)));
  }

  // The batch on options.device (DataLoaderOptions::device), copied on its side stream.
  Batch to_device(Batch batch) const {
    if (!options.device) return batch;
    if (batch.input.defined()) batch.input = batch.input.to(*options.device, /*non_blocking=*/true);
    if (batch.target.defined()) batch.target = batch.target.to(*options.device, /*non_blocking=*/true);
    return batch;
  }

  // Makes batch b if nobody has claimed it yet; returns whether this call made it.
  bool try_make(int64_t b) {
    Slot& slot = slots[static_cast<size_t>(b)];
    int expected = kPending;
    if (!slot.state.compare_exchange_strong(expected, kRunning)) return false;
    try {
      slot.batch = make(b);
    } catch (...) {
      slot.error = std::current_exception();
    }
    {
      std::lock_guard lock(mutex);
      slot.state.store(kDone);
    }
    done_cv.notify_all();
    return true;
  }

  void submit_up_to(int64_t limit) {
    limit = std::min(limit, batches_in_epoch);
    if (submitted >= limit) return;
    arena->execute([&] {
      for (; submitted < limit; ++submitted) {
        int64_t b = submitted;
        group.run([this, b] {
          if (!cancelled.load()) try_make(b);
        });
      }
    });
  }

  void cancel() {
    if (!arena) return;
    cancelled.store(true);
    arena->execute([&] { group.wait(); });
    cancelled.store(false);
  }

  void start(int64_t epoch) {
    cancel();
    started = true;
    cursor = 0;
    submitted = 0;
    iterable_done = false;
    if (iterable) {
      iterable->start_epoch(epoch);
      return;
    }
    sampler->set_epoch(epoch);
    order = sampler->indices();
    batches_in_epoch = count_batches(static_cast<int64_t>(order.size()));
    slots = std::make_unique<Slot[]>(static_cast<size_t>(batches_in_epoch));
    if (arena) submit_up_to(static_cast<int64_t>(options.num_workers) * options.prefetch_factor);
  }

  std::optional<Batch> next_iterable() {
    if (iterable_done) return std::nullopt;
    std::vector<Example> examples;
    while (static_cast<int64_t>(examples.size()) < options.batch_size) {
      std::optional<Example> e = iterable->next();
      if (!e) {
        iterable_done = true;
        break;
      }
      examples.push_back(std::move(*e));
    }
    if (examples.empty() || (options.drop_last && static_cast<int64_t>(examples.size()) < options.batch_size))
      return std::nullopt;
    NoGradGuard no_grad;
    return to_device(options.collate ? options.collate(std::move(examples)) : default_collate(std::move(examples)));
  }

  std::optional<Batch> next() {
    if (!started) start(0);
    if (iterable) return next_iterable();
    if (cursor >= batches_in_epoch) return std::nullopt;
    int64_t b = cursor++;
    Slot& slot = slots[static_cast<size_t>(b)];
    if (arena) {
      // Keep the window full: batches b+1 .. b+window are in flight while b is consumed.
      submit_up_to(b + 1 + static_cast<int64_t>(options.num_workers) * options.prefetch_factor);
      if (!try_make(b)) {
        std::unique_lock lock(mutex);
        done_cv.wait(lock, [&] { return slot.state.load() == kDone; });
      }
    } else {
      try_make(b);
    }
    std::optional<Batch> batch = std::move(slot.batch);
    slot.batch.reset();
    if (slot.error) std::rethrow_exception(std::exchange(slot.error, nullptr));
    return batch;
  }
};

namespace {
void check_options(const DataLoaderOptions& o) {
  KILN_CHECK(o.batch_size > 0, ValueError, "DataLoader: batch_size must be positive, got ", o.batch_size);
  KILN_CHECK(o.num_workers >= 0, ValueError, "DataLoader: num_workers must be >= 0, got ", o.num_workers);
  KILN_CHECK(o.prefetch_factor >= 1, ValueError, "DataLoader: prefetch_factor must be >= 1, got ", o.prefetch_factor);
}
}  // namespace

DataLoader::DataLoader(DatasetPtr dataset, DataLoaderOptions options) : impl_(std::make_unique<Impl>()) {
  KILN_CHECK(dataset != nullptr, ValueError, "DataLoader: the data set is null");
  check_options(options);
  impl_->dataset = std::move(dataset);
  impl_->options = std::move(options);
  auto& o = impl_->options;
  if (o.sampler) {
    impl_->sampler = o.sampler;
  } else if (o.shuffle) {
    impl_->sampler = std::make_shared<RandomSampler>(impl_->dataset->size(), RandomSamplerOptions{.seed = o.seed});
  } else {
    impl_->sampler = std::make_shared<SequentialSampler>(impl_->dataset->size());
  }
  if (o.num_workers > 0) {
    // One slot reserved for the consumer thread, so it can always enter to submit or wait. TBB has
    // max_allowed_parallelism - 1 worker threads in all (1 on a 2-core machine); asking for more
    // only prints a warning, so the arena asks for at most that many.
    auto threads = static_cast<int>(tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism));
    int arena_workers = std::max(1, std::min(o.num_workers, threads - 1));
    impl_->arena = std::make_unique<tbb::task_arena>(arena_workers + 1, 1);
  }
}

DataLoader::DataLoader(IterableDatasetPtr dataset, DataLoaderOptions options) : impl_(std::make_unique<Impl>()) {
  KILN_CHECK(dataset != nullptr, ValueError, "DataLoader: the iterable data set is null");
  check_options(options);
  impl_->iterable = std::move(dataset);
  impl_->options = std::move(options);
}

DataLoader::~DataLoader() = default;
DataLoader::DataLoader(DataLoader&&) noexcept = default;
DataLoader& DataLoader::operator=(DataLoader&&) noexcept = default;

void DataLoader::start_epoch(int64_t epoch) { impl_->start(epoch); }
std::optional<Batch> DataLoader::next() { return impl_->next(); }

int64_t DataLoader::num_batches() const {
  if (impl_->iterable) return -1;
  return impl_->count_batches(impl_->sampler->size());
}

int64_t DataLoader::num_samples() const {
  if (impl_->iterable) return -1;
  int64_t n = impl_->sampler->size();
  return impl_->options.drop_last ? n / impl_->options.batch_size * impl_->options.batch_size : n;
}

const DataLoaderOptions& DataLoader::options() const { return impl_->options; }
const DatasetPtr& DataLoader::dataset() const { return impl_->dataset; }

}  // namespace kiln::data
