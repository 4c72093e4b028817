// Device helpers: making a device current, its copy stream, event pool and peer access, and the
// pinned upload staging of buffer_write (Note [Pinned staging] in device.hpp).
#include "device.hpp"

#include <cstring>

namespace kiln::cuda {

void check_runtime(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  (void)cudaGetLastError();
  fail(err == cudaErrorMemoryAllocation ? KILN_STATUS_OUT_OF_MEMORY : KILN_STATUS_DEVICE_ERROR, "cuda: ", what, ": ",
       cudaGetErrorName(err), ": ", cudaGetErrorString(err));
}

void Device::make_current() {
  // Every launch calls this; cudaGetDevice is a thread-local read, cheaper than cudaSetDevice.
  int current = -1;
  if (cudaGetDevice(&current) == cudaSuccess && current == index_) return;
  cudaError_t err = cudaSetDevice(index_);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    fail(KILN_STATUS_DEVICE_ERROR, "cuda: cudaSetDevice(", index_, "): ", cudaGetErrorName(err), ": ",
         cudaGetErrorString(err));
  }
}

DeviceGuard::DeviceGuard(int device) {
  if (cudaGetDevice(&previous_) != cudaSuccess) previous_ = -1;
  if (previous_ != device) cudaSetDevice(device);
  (void)cudaGetLastError();
}

DeviceGuard::~DeviceGuard() {
  int current = -1;
  if (previous_ >= 0 && cudaGetDevice(&current) == cudaSuccess && current != previous_) cudaSetDevice(previous_);
  (void)cudaGetLastError();
}

Stream& Device::copy_stream() {
  std::call_once(copy_once_, [&] {
    DeviceGuard guard(index_);
    copy_stream_.device = this;
    // Non-blocking like the streams the host creates: nothing orders it implicitly, every wait
    // is an explicit event (Note [Stream ordering of reused blocks]).
    check_runtime(cudaStreamCreateWithFlags(&copy_stream_.stream, cudaStreamNonBlocking),
                  "creating the copy stream (cudaStreamCreateWithFlags)");
  });
  if (copy_stream_.stream == nullptr) fail(KILN_STATUS_DEVICE_ERROR, "cuda: cuda:", index_, " has no copy stream");
  return copy_stream_;
}

cudaEvent_t Device::take_event() {
  {
    std::lock_guard<std::mutex> lock(events_mutex_);
    if (!events_.empty()) {
      cudaEvent_t e = events_.back();
      events_.pop_back();
      return e;
    }
  }
  DeviceGuard guard(index_);  // an event belongs to the device current at its creation
  cudaEvent_t e = nullptr;
  if (cudaEventCreateWithFlags(&e, cudaEventDisableTiming) != cudaSuccess) {
    (void)cudaGetLastError();
    return nullptr;
  }
  return e;
}

void Device::give_event(cudaEvent_t event) {
  if (event == nullptr) return;
  std::lock_guard<std::mutex> lock(events_mutex_);
  events_.push_back(event);
}

bool Device::enable_peer_access(int peer) {
  if (peer == index_) return true;
  std::lock_guard<std::mutex> lock(peer_mutex_);
  if (peer_state_.size() <= static_cast<size_t>(peer)) peer_state_.resize(static_cast<size_t>(peer) + 1, 0);
  int& state = peer_state_[static_cast<size_t>(peer)];
  if (state != 0) return state > 0;
  int can = 0;
  if (cudaDeviceCanAccessPeer(&can, index_, peer) != cudaSuccess || can == 0) {
    (void)cudaGetLastError();
    state = -1;
    return false;
  }
  DeviceGuard guard(index_);  // access from the current device (this one) to peer's memory
  cudaError_t err = cudaDeviceEnablePeerAccess(peer, 0);
  if (err == cudaErrorPeerAccessAlreadyEnabled) err = cudaSuccess;
  (void)cudaGetLastError();
  state = err == cudaSuccess ? 1 : -1;
  return state > 0;
}

cublasHandle_t Device::take_blas_handle() {
  std::lock_guard<std::mutex> lock(handles_mutex_);
  if (blas_handles_.empty()) return nullptr;
  cublasHandle_t h = blas_handles_.back();
  blas_handles_.pop_back();
  return h;
}

cudnnHandle_t Device::take_dnn_handle() {
  std::lock_guard<std::mutex> lock(handles_mutex_);
  if (dnn_handles_.empty()) return nullptr;
  cudnnHandle_t h = dnn_handles_.back();
  dnn_handles_.pop_back();
  return h;
}

void Device::give_handles(cublasHandle_t blas, cudnnHandle_t dnn) {
  std::lock_guard<std::mutex> lock(handles_mutex_);
  if (blas != nullptr) blas_handles_.push_back(blas);
  if (dnn != nullptr) dnn_handles_.push_back(dnn);
}

ErrorState::~ErrorState() {
  DeviceGuard guard(device_index);
  if (claim != nullptr) cudaFree(claim);
  if (record != nullptr) cudaFreeHost(record);
  (void)cudaGetLastError();
}

bool UploadStaging::upload(cudaStream_t cu_stream, void* dst, const void* src, size_t bytes) {
  constexpr size_t kMaxUpload = size_t{64} << 20, kMaxTotal = size_t{256} << 20, kMinChunk = size_t{1} << 20;
  if (bytes > kMaxUpload) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  Chunk* pick = nullptr;
  for (Chunk& c : chunks_)  // the smallest free chunk that fits (a never-recorded event counts as done)
    if (c.size >= bytes && (pick == nullptr || c.size < pick->size) && cudaEventQuery(c.done) == cudaSuccess) pick = &c;
  (void)cudaGetLastError();  // cudaEventQuery's cudaErrorNotReady
  if (pick == nullptr) {
    size_t size = kMinChunk;
    while (size < bytes) size *= 2;
    if (total_ + size > kMaxTotal) return false;
    Chunk c{nullptr, size, nullptr};
    if (cudaHostAlloc(&c.host, size, cudaHostAllocDefault) != cudaSuccess) {
      (void)cudaGetLastError();
      return false;  // no pinned memory to be had: copy synchronously
    }
    if (cudaEventCreateWithFlags(&c.done, cudaEventDisableTiming) != cudaSuccess) {
      (void)cudaGetLastError();
      cudaFreeHost(c.host);
      return false;
    }
    chunks_.push_back(c);
    total_ += size;
    pick = &chunks_.back();
  }
  std::memcpy(pick->host, src, bytes);
  cudaError_t err = cudaMemcpyAsync(dst, pick->host, bytes, cudaMemcpyDefault, cu_stream);
  if (err == cudaSuccess) err = cudaEventRecord(pick->done, cu_stream);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    fail(KILN_STATUS_DEVICE_ERROR, "cuda: buffer_write of ", bytes, " bytes (pinned staging): ", cudaGetErrorName(err),
         ": ", cudaGetErrorString(err));
  }
  return true;
}

}  // namespace kiln::cuda
