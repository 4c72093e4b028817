// The caching device allocator: one per device, the one owner of device-memory caching (the
// device reports caches_memory = 1, so the host does not cache on top of it).
//
// Note [Caching allocator]: a training step allocates and frees the same sizes every step, and
// cudaMalloc/cudaFree synchronize the device, so freed blocks go to size-bucketed free lists and
// are handed out again; in the steady state no cudaMalloc happens. Sizes are rounded up to 512
// bytes below 1 MiB and to quarter powers of two above, so a few buckets serve every size.
//
// Note [Stream ordering of reused blocks]: the ABI's buffer_alloc names a device, not a stream,
// so free lists cannot be kept per stream as PyTorch does. Instead every block remembers which
// streams used it in its current life (each launch, stream-ordered copy and host copy tells the
// allocator, through use()). When the block is freed those streams become its fences. The next
// life's first use on a stream S waits for every fence of another stream: an event is recorded
// on that stream (lazily, at the first such use; recording later only covers more work) and S
// waits on it with cudaStreamWaitEvent, so the host never blocks. A block freed while its stream
// may still run kernels on it is thus reused at once by that same stream (stream order suffices)
// and by any other stream only after an event. Host copies (buffer_read/buffer_write, which have
// no stream) run on the device's internal copy stream, which also waits for the block's current
// users, and a write leaves a fence on the block that later users wait for.
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
  Stream* stream;               // the stream whose earlier work must finish first
  cudaEvent_t event;            // recorded on `stream`; nullptr until a first other stream needs it
  std::vector<Stream*> waited;  // streams that already wait on it
};

struct Block {
  void* ptr = nullptr;
  size_t size = 0;       // rounded size actually allocated
  size_t requested = 0;  // what the caller asked for (bounds for the copies)
  Device* device = nullptr;
  bool in_use = false;
  bool imported = false;   // buffer_import_host: ptr maps host_ptr, which the caller owns
  bool read_only = false;  // imported read-only (the device may not write it)
  void* host_ptr = nullptr;
  std::vector<Stream*> users;  // streams that used it in this life
  std::vector<Fence> fences;   // what a new user must wait for
};

class Allocator {
 public:
  Allocator(Device* device, int index) : device_(device), index_(index) {}
  // Throws Failure(OUT_OF_MEMORY) after releasing the cache and retrying once.
  Block* allocate(size_t bytes);
  // A buffer over registered host memory (buffer_import_host); never cached.
  Block* import(void* device_ptr, void* host_ptr, size_t bytes, bool read_only);
  void release(Block* block);
  // `stream` is about to use the block: it waits for the block's fences (and, with
  // wait_for_users, for the work its other current users have submitted so far) and becomes a
  // user. The waits are enqueued on stream; the host does not block.
  void use(Block* block, Stream* stream, bool wait_for_users);
  // The work submitted to `stream` so far (a host write into the block) must finish before any
  // other stream uses the block.
  void fence_after(Block* block, Stream* stream);
  // The block whose base address is ptr (the v1 launch slot's descriptors), or nullptr.
  Block* find(const void* ptr);
  // Called after `stream` was synchronized, before it is destroyed.
  void forget_stream(Stream* stream);
  // Frees every cached block (cudaFree). Returns the bytes released.
  size_t empty_cache();

 private:
  static size_t round_size(size_t bytes);
  void wait_fence(Fence& fence, Stream* stream);
  void drop_fence(Fence& fence);
  void free_cached_locked();

  Device* device_;
  int index_;
  std::mutex mutex_;
  std::multimap<size_t, Block*> free_;            // size -> cached block
  std::unordered_map<const void*, Block*> live_;  // base address -> block in use
  bool caching_ = true;
  bool caching_checked_ = false;
  size_t cached_bytes_ = 0;
};

}  // namespace kiln::cuda

#endif  // KILN_BACKENDS_CUDA_ALLOCATOR_HPP
