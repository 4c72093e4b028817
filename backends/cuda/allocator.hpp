// The caching device allocator: one per device.
//
// Note [Caching allocator]: a training step allocates and frees the same sizes every step, and
// cudaMalloc/cudaFree synchronize the device, so freed blocks go to size-bucketed free lists and
// are handed out again; in the steady state no cudaMalloc happens. Sizes are rounded up to 512
// bytes below 1 MiB and to quarter powers of two above, so a few buckets serve every size.
//
// Note [Stream ordering of reused blocks]: the ABI's buffer_alloc names a device, not a stream,
// so free lists cannot be kept per stream as PyTorch does. Instead each block remembers which
// streams used it (the launch code tells the allocator, by the buffer's base address). When a
// block is reused and a launch on stream S touches it while stream A != S used it in its previous
// life, an event is recorded on A and S waits for it, so the new owner never overtakes the old
// one's kernels. While a device has a single live stream (the common case) none of this is
// tracked: stream order alone makes reuse safe, and creating a second stream first synchronizes
// the device so that nothing earlier is still in flight. buffer_read and buffer_write use the
// legacy default stream, which is ordered with every (blocking) stream the backend creates.
#ifndef KILN_BACKENDS_CUDA_ALLOCATOR_HPP
#define KILN_BACKENDS_CUDA_ALLOCATOR_HPP

#include "common.hpp"

#include <atomic>
#include <cstddef>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace kiln::cuda {

struct Fence {
  Stream* stream;           // a stream that used the block in its previous life
  cudaEvent_t event;        // recorded on `stream` the first time another stream needs it
  std::vector<Stream*> waited;  // streams that already wait on it
};

struct Block {
  void* ptr = nullptr;
  size_t size = 0;       // rounded size actually allocated
  size_t requested = 0;  // what the caller asked for (bounds for buffer_read/write)
  Device* device = nullptr;
  bool in_use = false;
  std::vector<Stream*> users;  // streams that used it in this life (multi-stream mode only)
  std::vector<Fence> fences;   // the previous life's users
};

class Allocator {
 public:
  Allocator(Device* device, int index) : device_(device), index_(index) {}
  // Throws Failure(OUT_OF_MEMORY) after releasing the cache and retrying once.
  Block* allocate(size_t bytes);
  void release(Block* block);
  // Multi-stream mode: record that `stream` uses the buffer whose base address is ptr, and make it
  // wait for the block's previous users. A no-op with one stream.
  void touch(const void* ptr, Stream* stream, cudaStream_t cu_stream);
  // Called with the device synchronized, when a second stream appears.
  void enter_multi_stream();
  // Called after `stream` was synchronized, before it is destroyed.
  void forget_stream(Stream* stream);
  // Frees every cached block (cudaFree). Returns the bytes released.
  size_t empty_cache();
  bool multi_stream() const { return multi_stream_.load(std::memory_order_acquire); }

 private:
  static size_t round_size(size_t bytes);
  cudaEvent_t take_event();
  void drop_fences(Block* block);

  Device* device_;
  int index_;
  std::mutex mutex_;
  std::multimap<size_t, Block*> free_;           // size -> cached block
  std::unordered_map<const void*, Block*> live_;  // base address -> block in use (multi-stream)
  std::vector<cudaEvent_t> events_;
  std::atomic<bool> multi_stream_{false};
  bool caching_ = true;
  bool caching_checked_ = false;
  size_t cached_bytes_ = 0;
};

}  // namespace kiln::cuda

#endif  // KILN_BACKENDS_CUDA_ALLOCATOR_HPP
