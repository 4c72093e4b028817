// The caching device allocator; see Note [Caching allocator] and Note [Stream ordering of reused
// blocks] in allocator.hpp.
#include "allocator.hpp"

#include "device.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace kiln::cuda {

// cudaMalloc calls made by every device's allocator (kiln_cuda_malloc_count below).
std::atomic<uint64_t> g_device_mallocs{0};

namespace {

constexpr size_t kSmallLimit = size_t{1} << 20;  // below: 512-byte steps
constexpr size_t kSmallStep = 512;

std::string mib(size_t bytes) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

bool contains(const std::vector<Stream*>& v, const Stream* s) { return std::find(v.begin(), v.end(), s) != v.end(); }

}  // namespace

size_t Allocator::round_size(size_t bytes) {
  if (bytes == 0) return kSmallStep;  // a zero-byte buffer is still a valid, distinct buffer
  if (bytes <= kSmallLimit) return (bytes + kSmallStep - 1) / kSmallStep * kSmallStep;
  // Quarter powers of two: at most 25% slack, few distinct sizes.
  int log2 = 63 - __builtin_clzll(bytes);
  size_t step = size_t{1} << (log2 - 2);
  return (bytes + step - 1) / step * step;
}

Block* Allocator::allocate(size_t bytes) {
  const size_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  if (!caching_checked_) {
    // KILN_CUDA_NO_CACHE=1: every free goes straight to cudaFree (for compute-sanitizer runs).
    const char* env = std::getenv("KILN_CUDA_NO_CACHE");
    caching_ = !(env && std::strcmp(env, "1") == 0);
    caching_checked_ = true;
  }
  // Small blocks may be reused for requests up to half their size; large ones only within a
  // bucket, so a big cached block is not tied up by a much smaller tensor. A reused block keeps
  // its fences (Note [Stream ordering of reused blocks]).
  auto it = free_.lower_bound(size);
  if (it != free_.end() && (it->first == size || (size <= kSmallLimit && it->first <= 2 * size))) {
    Block* block = it->second;
    free_.erase(it);
    cached_bytes_ -= block->size;
    block->in_use = true;
    block->requested = bytes;
    live_[block->ptr] = block;
    return block;
  }
  device_->make_current();
  void* ptr = nullptr;
  cudaError_t err = cudaMalloc(&ptr, size);
  g_device_mallocs.fetch_add(1, std::memory_order_relaxed);
  if (err == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // clear the (non-sticky) error before retrying
    free_cached_locked();      // give the cache back to the driver and retry once
    err = cudaMalloc(&ptr, size);
    g_device_mallocs.fetch_add(1, std::memory_order_relaxed);
  }
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    (void)cudaGetLastError();
    std::string message = "cuda: out of device memory on cuda:" + std::to_string(index_) + ": asked for " +
                          std::to_string(bytes) + " bytes (" + mib(bytes) + "), " + std::to_string(free_bytes) +
                          " bytes free (" + mib(free_bytes) + ") of " + mib(total_bytes) + " (cudaMalloc: " +
                          cudaGetErrorString(err) + ")";
    fail(err == cudaErrorMemoryAllocation ? KILN_STATUS_OUT_OF_MEMORY : KILN_STATUS_DEVICE_ERROR, message);
  }
  Block* block = new Block;
  block->ptr = ptr;
  block->size = size;
  block->requested = bytes;
  block->device = device_;
  block->in_use = true;
  live_[ptr] = block;
  return block;
}

Block* Allocator::import(void* device_ptr, void* host_ptr, size_t bytes, bool read_only) {
  Block* block = new Block;
  block->ptr = device_ptr;
  block->size = bytes;
  block->requested = bytes;
  block->device = device_;
  block->in_use = true;
  block->imported = true;
  block->read_only = read_only;
  block->host_ptr = host_ptr;
  std::lock_guard<std::mutex> lock(mutex_);
  if (device_ptr != nullptr) live_[device_ptr] = block;
  return block;
}

void Allocator::release(Block* block) {
  if (block == nullptr) return;
  std::unique_lock<std::mutex> lock(mutex_);
  if (block->ptr != nullptr) {
    auto it = live_.find(block->ptr);
    if (it != live_.end() && it->second == block) live_.erase(it);
  }
  block->in_use = false;
  if (block->imported) {
    // The memory stays the caller's: wait for every stream that used it, then unregister. The
    // waits happen outside the lock (they may be long).
    std::vector<cudaStream_t> streams;
    for (Stream* s : block->users) streams.push_back(s->stream);
    for (Fence& f : block->fences)
      if (f.stream) streams.push_back(f.stream->stream);
    for (Fence& f : block->fences) drop_fence(f);
    block->fences.clear();
    lock.unlock();
    device_->make_current();
    for (cudaStream_t s : streams) cudaStreamSynchronize(s);
    if (block->host_ptr != nullptr && block->size > 0) cudaHostUnregister(block->host_ptr);
    (void)cudaGetLastError();
    delete block;
    return;
  }
  if (!caching_) {
    device_->make_current();
    cudaFree(block->ptr);  // synchronizes the device: no kernel can still use it
    (void)cudaGetLastError();
    for (Fence& f : block->fences) drop_fence(f);
    delete block;
    return;
  }
  // This life's users become fences of the next life. An older fence stays unless its stream is
  // among them (the new fence covers later work) or its event has already completed.
  std::vector<Fence> kept;
  for (Fence& f : block->fences) {
    const bool covered = f.stream != nullptr && contains(block->users, f.stream);
    if (covered || (f.event != nullptr && cudaEventQuery(f.event) == cudaSuccess)) {
      drop_fence(f);
    } else {
      kept.push_back(std::move(f));
    }
  }
  (void)cudaGetLastError();  // cudaEventQuery's cudaErrorNotReady
  for (Stream* s : block->users) kept.push_back(Fence{s, nullptr, {}});
  block->fences = std::move(kept);
  block->users.clear();
  free_.emplace(block->size, block);
  cached_bytes_ += block->size;
}

void Allocator::drop_fence(Fence& fence) {
  if (fence.event != nullptr) fence.stream->device->give_event(fence.event);
  fence.event = nullptr;
}

void Allocator::wait_fence(Fence& f, Stream* stream) {
  if (f.stream == stream || contains(f.waited, stream)) return;
  if (f.event == nullptr) {
    // Recording now covers every kernel the old user enqueued before the block was freed (and
    // possibly more, which is only conservative). The event belongs to the fence stream's device.
    f.event = f.stream->device->take_event();
    cudaError_t err = f.event == nullptr ? cudaErrorMemoryAllocation : cudaEventRecord(f.event, f.stream->stream);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      if (f.event != nullptr) f.stream->device->give_event(f.event);
      f.event = nullptr;
      cudaStreamSynchronize(f.stream->stream);  // fall back to waiting outright
      (void)cudaGetLastError();
      return;
    }
  }
  cudaStreamWaitEvent(stream->stream, f.event, 0);
  f.waited.push_back(stream);
}

void Allocator::use(Block* block, Stream* stream, bool wait_for_users) {
  if (block == nullptr || stream == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  for (Fence& f : block->fences) wait_fence(f, stream);
  if (wait_for_users) {
    for (Stream* user : block->users) {
      if (user == stream) continue;
      Fence now{user, nullptr, {}};
      wait_fence(now, stream);
      drop_fence(now);  // a wait captures the event's state when it is enqueued: reusable at once
    }
  }
  if (!contains(block->users, stream)) block->users.push_back(stream);
}

void Allocator::fence_after(Block* block, Stream* stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = block->fences.begin(); it != block->fences.end(); ++it) {
    if (it->stream != stream) continue;
    drop_fence(*it);
    block->fences.erase(it);
    break;
  }
  Fence f{stream, stream->device->take_event(), {}};
  if (f.event == nullptr || cudaEventRecord(f.event, stream->stream) != cudaSuccess) {
    (void)cudaGetLastError();
    drop_fence(f);
    cudaStreamSynchronize(stream->stream);  // no event to be had: the work is done when this returns
    (void)cudaGetLastError();
    return;
  }
  block->fences.push_back(std::move(f));
}

Block* Allocator::find(const void* ptr) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  return it == live_.end() ? nullptr : it->second;
}

void Allocator::forget_stream(Stream* stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto scrub = [&](Block* block) {
    std::erase(block->users, stream);
    for (Fence& f : block->fences) std::erase(f.waited, stream);
    // The stream was synchronized: its old work is done, its fences are no longer needed.
    for (auto it = block->fences.begin(); it != block->fences.end();) {
      if (it->stream == stream) {
        drop_fence(*it);
        it = block->fences.erase(it);
      } else {
        ++it;
      }
    }
  };
  for (auto& [ptr, block] : live_) {
    (void)ptr;
    scrub(block);
  }
  for (auto& [size, block] : free_) {
    (void)size;
    scrub(block);
  }
}

void Allocator::free_cached_locked() {
  device_->make_current();
  for (auto& [size, block] : free_) {
    (void)size;
    cudaFree(block->ptr);  // synchronizes the device, so the fences are moot
    for (Fence& f : block->fences) drop_fence(f);
    delete block;
  }
  (void)cudaGetLastError();
  free_.clear();
  cached_bytes_ = 0;
}

size_t Allocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t released = cached_bytes_;
  free_cached_locked();
  return released;
}

// ---- Workspace ----
Workspace::Workspace(const Context& ctx, size_t bytes) : block_(ctx.device->allocator().allocate(bytes)) {
  ctx.device->allocator().use(block_, ctx.stream, false);
}
Workspace::~Workspace() { block_->device->allocator().release(block_); }
void* Workspace::data() const { return block_->ptr; }

}  // namespace kiln::cuda

// Not part of the plugin ABI: a diagnostic the CUDA tests find with dlsym, to check that a
// training step's steady state makes no cudaMalloc (Note [Caching allocator]). Counts every
// cudaMalloc the caching allocator has made in this process, successful or not.
extern "C" __attribute__((visibility("default"))) uint64_t kiln_cuda_malloc_count(void) {
  return kiln::cuda::g_device_mallocs.load(std::memory_order_relaxed);
}
