// Devices and streams of the CUDA backend (the objects behind the ABI's opaque handles).
#ifndef KILN_BACKENDS_CUDA_DEVICE_HPP
#define KILN_BACKENDS_CUDA_DEVICE_HPP

#include "allocator.hpp"
#include "common.hpp"

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

namespace kiln::cuda {

// Note [Pinned staging]: buffer_write (every host-to-device copy: tensors moved with .to(), the
// DataLoader's batches, parameters) copies the caller's bytes into a pinned host buffer and
// queues an asynchronous copy from it on the legacy default stream, which is ordered with the
// backend's (blocking) streams; the call returns without waiting for the GPU, and pinned memory
// transfers at full PCIe speed. Buffers are reused once the event recorded after their copy has
// completed. Uploads over 64 MiB, or past 256 MiB of staging in all, copy synchronously instead.
class UploadStaging {
 public:
  UploadStaging() = default;
  UploadStaging(const UploadStaging&) = delete;
  UploadStaging& operator=(const UploadStaging&) = delete;
  // Queues the copy of bytes from src to device address dst; false (nothing queued) when staging
  // cannot take it, so the caller copies synchronously. Fails (DEVICE_ERROR) on a CUDA error.
  bool upload(void* dst, const void* src, size_t bytes);

 private:
  struct Chunk {
    void* host;
    size_t size;
    cudaEvent_t done;
  };
  std::mutex mutex_;
  std::vector<Chunk> chunks_;
  size_t total_ = 0;
};

class Device {
 public:
  explicit Device(int index) : index_(index), allocator_(this, index) {}
  int index() const { return index_; }
  Allocator& allocator() { return allocator_; }
  // Makes this device current on the calling thread (cheap when it already is).
  void make_current();
  std::atomic<int> live_streams{0};
  std::mutex stream_mutex;  // serializes stream creation and destruction
  UploadStaging staging;

 private:
  int index_;
  Allocator allocator_;
};

// Note [Deferred index errors]: gather, scatter_add, embedding and its backward check every
// index on the GPU. Waiting for each such kernel to learn whether one was out of range would
// stop the host from running ahead of the device at every cross-entropy, so the kernels instead
// set a flag (one per op) in mapped pinned host memory, and the host looks at the flags at the
// stream's next launch and at every synchronize (a plain memory read). The error names the op,
// the bound and the indexed tensor's shape of that op's latest launch on the stream.
struct IndexLaunch {
  int64_t bound = 0;
  kiln_tensor_desc indexed{};
};

class Stream {
 public:
  Device* device = nullptr;
  cudaStream_t stream = nullptr;
  int* index_errors = nullptr;         // mapped pinned host memory, KILN_OP_COUNT ints
  int* index_errors_device = nullptr;  // the same memory as the device addresses it
  IndexLaunch last_index_launch[KILN_OP_COUNT];
};

}  // namespace kiln::cuda

#endif  // KILN_BACKENDS_CUDA_DEVICE_HPP
