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
  // bucket, so a big cached block is not tied up by a much smaller tensor.
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
    // Give the cache back to the driver and retry once.
    for (auto& [sz, block] : free_) {
      (void)sz;
      cudaFree(block->ptr);
      drop_fences(block);
      delete block;
    }
    free_.clear();
    cached_bytes_ = 0;
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

void Allocator::release(Block* block) {
  if (block == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  live_.erase(block->ptr);
  block->in_use = false;
  if (!caching_) {
    device_->make_current();
    cudaFree(block->ptr);  // synchronizes the device: no kernel can still use it
    (void)cudaGetLastError();
    drop_fences(block);
    delete block;
    return;
  }
  if (multi_stream_ && !block->users.empty()) {
    // This life's users become the fences of the next life. The previous fences are covered:
    // every user of this life is ordered after them (it waited on them, or it is their stream).
    drop_fences(block);
    for (Stream* s : block->users) block->fences.push_back(Fence{s, nullptr, {}});
    block->users.clear();
  }
  free_.emplace(block->size, block);
  cached_bytes_ += block->size;
}

cudaEvent_t Allocator::take_event() {
  if (!events_.empty()) {
    cudaEvent_t e = events_.back();
    events_.pop_back();
    return e;
  }
  cudaEvent_t e = nullptr;
  if (cudaEventCreateWithFlags(&e, cudaEventDisableTiming) != cudaSuccess) {
    (void)cudaGetLastError();
    return nullptr;
  }
  return e;
}

void Allocator::drop_fences(Block* block) {
  for (Fence& f : block->fences)
    if (f.event) events_.push_back(f.event);
  block->fences.clear();
}

void Allocator::touch(const void* ptr, Stream* stream, cudaStream_t cu_stream) {
  if (!multi_stream_ || ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  if (it == live_.end()) return;
  Block* block = it->second;
  if (!contains(block->users, stream)) block->users.push_back(stream);
  for (Fence& f : block->fences) {
    if (f.stream == nullptr || f.stream == stream || contains(f.waited, stream)) continue;
    if (f.event == nullptr) {
      // Recording now covers every kernel the old user enqueued before the block was freed
      // (and possibly more, which is only conservative).
      f.event = take_event();
      if (f.event == nullptr || cudaEventRecord(f.event, f.stream->stream) != cudaSuccess) {
        (void)cudaGetLastError();
        cudaStreamSynchronize(f.stream->stream);  // fall back to waiting outright
        f.stream = nullptr;                       // satisfied for everyone
        continue;
      }
    }
    cudaStreamWaitEvent(cu_stream, f.event, 0);
    f.waited.push_back(stream);
  }
}

void Allocator::enter_multi_stream() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (multi_stream_) return;
  // The device was synchronized by the caller: nothing earlier is in flight, no fences needed.
  for (auto& [size, block] : free_) {
    (void)size;
    drop_fences(block);
  }
  multi_stream_.store(true, std::memory_order_release);
}

void Allocator::forget_stream(Stream* stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto scrub = [&](Block* block) {
    std::erase(block->users, stream);
    for (Fence& f : block->fences) std::erase(f.waited, stream);
    // The stream was synchronized: its old work is done, its fences are no longer needed.
    for (auto it = block->fences.begin(); it != block->fences.end();) {
      if (it->stream == stream) {
        if (it->event) events_.push_back(it->event);
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

size_t Allocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  device_->make_current();
  size_t released = 0;
  for (auto& [size, block] : free_) {
    released += size;
    cudaFree(block->ptr);
    drop_fences(block);
    delete block;
  }
  (void)cudaGetLastError();
  free_.clear();
  cached_bytes_ = 0;
  return released;
}

// ---- Workspace ----
Workspace::Workspace(const Context& ctx, size_t bytes) : block_(ctx.device->allocator().allocate(bytes)) {
  ctx.device->allocator().touch(block_->ptr, ctx.stream, ctx.cu_stream);
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
