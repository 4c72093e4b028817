#include "dispatch/allocator.hpp"

#include <kiln/error.hpp>

#include <bit>

#include "plugin_host/registry.hpp"

namespace kiln::detail {

size_t CachingAllocator::size_class(size_t bytes) {
  if (bytes <= 256) return 256;
  // four classes per power of two: 1, 1.25, 1.5, 1.75 x 2^k
  size_t p = std::bit_floor(bytes);
  size_t quarter = p / 4;
  return (bytes + quarter - 1) / quarter * quarter;
}

CachingAllocator::Block CachingAllocator::allocate(size_t bytes) {
  size_t cls = size_class(bytes);
  {
    std::lock_guard lock(mutex_);
    ++stats_.requests;
    auto it = free_.find(cls);
    if (it != free_.end() && !it->second.empty()) {
      Block b = it->second.back();
      it->second.pop_back();
      stats_.bytes_cached -= b.capacity;
      stats_.bytes_in_use += b.capacity;
      stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
      return b;
    }
  }
  const auto* api = backend_->api;
  Block b;
  b.capacity = cls;
  kiln_status s = api->buffer_alloc(device_->handle, cls, &b.buffer);
  if (s == KILN_STATUS_OUT_OF_MEMORY) {
    empty_cache();
    s = api->buffer_alloc(device_->handle, cls, &b.buffer);
  }
  KILN_CHECK(s == KILN_STATUS_OK, DeviceError, "allocating ", bytes, " bytes on ", backend_->name, " (",
             device_->props.name, ") failed: ", backend_->last_error());
  b.data = api->buffer_data(b.buffer);
  std::lock_guard lock(mutex_);
  ++stats_.system_allocations;
  stats_.bytes_in_use += b.capacity;
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  return b;
}

void CachingAllocator::release(const Block& block) {
  std::lock_guard lock(mutex_);
  stats_.bytes_in_use -= block.capacity;
  if (device_->plugin_caches_memory || stats_.bytes_cached + block.capacity > kMaxCachedBytes) {
    backend_->api->buffer_free(block.buffer);
    return;
  }
  stats_.bytes_cached += block.capacity;
  free_[block.capacity].push_back(block);
}

void CachingAllocator::free_all_locked() {
  for (auto& [cls, blocks] : free_)
    for (auto& b : blocks) backend_->api->buffer_free(b.buffer);
  free_.clear();
  stats_.bytes_cached = 0;
}

void CachingAllocator::empty_cache() {
  std::lock_guard lock(mutex_);
  free_all_locked();
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

AllocatorStats allocator_stats() {
  AllocatorStats total;
  for (auto* b : Registry::get().backends())
    for (auto& d : b->devices) {
      auto s = d->allocator->stats();
      total.system_allocations += s.system_allocations;
      total.requests += s.requests;
      total.bytes_in_use += s.bytes_in_use;
      total.bytes_cached += s.bytes_cached;
      total.peak_bytes_in_use += s.peak_bytes_in_use;
    }
  return total;
}

}  // namespace kiln::detail
