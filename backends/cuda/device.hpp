// Devices, streams and events of the CUDA backend (the objects behind the ABI's opaque handles).
#ifndef KILN_BACKENDS_CUDA_DEVICE_HPP
#define KILN_BACKENDS_CUDA_DEVICE_HPP

#include "allocator.hpp"
#include "common.hpp"

#include <cublas_v2.h>
#include <cudnn.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace kiln::cuda {

// Note [Pinned staging]: buffer_write (the v1 host-to-device copy: tensors moved with .to(), the
// DataLoader's batches, parameters) copies the caller's bytes into a pinned host buffer and
// queues an asynchronous copy from it on the device's copy stream; the call returns without
// waiting for the GPU, pinned memory transfers at full PCIe speed, and the block's fence makes
// every later user wait for the copy (Note [Stream ordering of reused blocks]). Buffers are reused
// once the event recorded after their copy has completed. Uploads over 64 MiB, or past 256 MiB
// of staging in all, copy synchronously instead.
class UploadStaging {
 public:
  UploadStaging() = default;
  UploadStaging(const UploadStaging&) = delete;
  UploadStaging& operator=(const UploadStaging&) = delete;
  // Queues the copy of bytes from src to device address dst on cu_stream; false (nothing queued)
  // when staging cannot take it, so the caller copies synchronously. Fails (DEVICE_ERROR) on a
  // CUDA error.
  bool upload(cudaStream_t cu_stream, void* dst, const void* src, size_t bytes);

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

// The per-stream state of Note [Deferred index errors] (index_check.hpp). Shared with the events
// recorded on the stream, which may outlive it.
struct ErrorState {
  ErrorState() = default;
  ErrorState(const ErrorState&) = delete;
  ErrorState& operator=(const ErrorState&) = delete;
  ~ErrorState();
  int device_index = 0;
  unsigned int* claim = nullptr;             // device memory, 0 = free
  IndexErrorRecord* record = nullptr;        // mapped pinned host memory
  IndexErrorRecord* record_device = nullptr; // the same, as the device addresses it
  std::mutex mutex;                          // one reader at a time (stream vs event synchronize)
  uint64_t reported_seq = 0;                 // the record's seq once reported (0: not yet)
  std::atomic<bool> needs_reset{false};      // reported by event_synchronize; the stream clears it
  std::atomic<uint64_t> failed_launch{0};    // what stream_failed_launch returns next
};

class Stream {
 public:
  Device* device = nullptr;
  cudaStream_t stream = nullptr;
  std::shared_ptr<ErrorState> errors;  // nullptr for the device's internal copy stream
  // Written by the one thread driving the stream (the threading contract), read by it and by
  // event_record on that same thread.
  uint64_t launch_seq = 0;      // launches submitted so far
  uint64_t last_launch_id = 0;  // the host's id of the latest launch
  const char* last_op = nullptr;
  cublasHandle_t blas = nullptr;  // created at the stream's first matmul (matmul.cpp)
  cudnnHandle_t dnn = nullptr;    // created at its first convolution (conv.cpp)
};

struct Event {
  Device* device = nullptr;
  cudaEvent_t event = nullptr;
  std::mutex mutex;  // guards what the latest event_record captured
  std::shared_ptr<ErrorState> errors;
  uint64_t seq = 0;  // the stream's launch_seq at the record
  uint64_t last_launch_id = 0;
  const char* last_op = nullptr;
};

class Device {
 public:
  explicit Device(int index) : index_(index), allocator_(this, index) {}
  int index() const { return index_; }
  Allocator& allocator() { return allocator_; }
  // Makes this device current on the calling thread (cheap when it already is).
  void make_current();
  // The internal non-blocking stream that buffer_read/buffer_write copy on (created on first use).
  Stream& copy_stream();
  // Events without timing, for fences and host waits; created on this device.
  cudaEvent_t take_event();
  void give_event(cudaEvent_t event);
  // Enables access from this device to peer's memory once; false if the hardware cannot.
  bool enable_peer_access(int peer);
  // Library handles of destroyed streams, for the next stream's first matmul or convolution
  // (nullptr when none is pooled). Note [Library handles per stream] in matmul.cpp.
  cublasHandle_t take_blas_handle();
  cudnnHandle_t take_dnn_handle();
  void give_handles(cublasHandle_t blas, cudnnHandle_t dnn);
  UploadStaging staging;

 private:
  int index_;
  Allocator allocator_;
  std::once_flag copy_once_;
  Stream copy_stream_;
  std::mutex events_mutex_;
  std::vector<cudaEvent_t> events_;
  std::mutex peer_mutex_;
  std::vector<int> peer_state_;  // by peer index: 0 not tried, 1 enabled, -1 impossible
  std::mutex handles_mutex_;
  std::vector<cublasHandle_t> blas_handles_;
  std::vector<cudnnHandle_t> dnn_handles_;
};

// Makes `device` current for a scope and restores the previous device at its end.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

// Throws DEVICE_ERROR (OUT_OF_MEMORY for cudaErrorMemoryAllocation) naming `what` if err is an error.
void check_runtime(cudaError_t err, const char* what);

}  // namespace kiln::cuda

#endif  // KILN_BACKENDS_CUDA_DEVICE_HPP
