// Devices and streams of the CUDA backend (the objects behind the ABI's opaque handles).
#ifndef KILN_BACKENDS_CUDA_DEVICE_HPP
#define KILN_BACKENDS_CUDA_DEVICE_HPP

#include "allocator.hpp"
#include "common.hpp"

#include <atomic>
#include <mutex>
#include <string>

namespace kiln::cuda {

class Device {
 public:
  explicit Device(int index) : index_(index), allocator_(this, index) {}
  int index() const { return index_; }
  Allocator& allocator() { return allocator_; }
  // Makes this device current on the calling thread (cheap when it already is).
  void make_current();
  std::atomic<int> live_streams{0};
  std::mutex stream_mutex;  // serializes stream creation and destruction

 private:
  int index_;
  Allocator allocator_;
};

class Stream {
 public:
  Device* device = nullptr;
  cudaStream_t stream = nullptr;
  int* error_flag = nullptr;       // device memory, one int
  int* host_error_flag = nullptr;  // pinned host memory, one int
};

}  // namespace kiln::cuda

#endif  // KILN_BACKENDS_CUDA_DEVICE_HPP
