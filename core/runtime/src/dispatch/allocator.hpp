// Private: a caching allocator per device, so a training step in steady state allocates nothing
// from the backend (and so from the system). Sizes round up to one of four classes per power of
// two; freed blocks go to a free list of their class and are reused by the next request of that
// class. Blocks are reused in stream order, which is safe with one stream per device.
#pragma once

#include <kiln/plugin/kiln_backend.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace kiln::detail {

struct BackendEntry;
struct DeviceEntry;

struct AllocatorStats {
  uint64_t system_allocations = 0;  // calls to the backend's buffer_alloc
  uint64_t requests = 0;
  uint64_t bytes_in_use = 0;
  uint64_t bytes_cached = 0;
  uint64_t peak_bytes_in_use = 0;
};

class CachingAllocator {
 public:
  struct Block {
    kiln_buffer_t buffer = nullptr;
    void* data = nullptr;
    size_t capacity = 0;
  };

  CachingAllocator(BackendEntry* backend, DeviceEntry* device) : backend_(backend), device_(device) {}
  // Throws DeviceError (naming bytes asked and the backend's message) when memory runs out even
  // after the cache has been returned to the backend.
  Block allocate(size_t bytes);
  void release(const Block& block);
  void empty_cache();
  AllocatorStats stats() const;

  static size_t size_class(size_t bytes);

 private:
  void free_all_locked();
  BackendEntry* backend_;
  DeviceEntry* device_;
  mutable std::mutex mutex_;
  std::unordered_map<size_t, std::vector<Block>> free_;
  AllocatorStats stats_;
  static constexpr uint64_t kMaxCachedBytes = 4ull << 30;
};

// Stats summed over every device of every backend (for tests and benchmarks).
AllocatorStats allocator_stats();

}  // namespace kiln::detail
