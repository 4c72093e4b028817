// Buffers and copies: allocation through the caching allocator, host copies on the device's copy
// stream, stream-ordered and peer copies, pinned host memory and imported host memory.
//
// Every copy here names cudaMemcpyDefault: with unified addressing (every 64-bit process) the
// runtime tells host from device memory by the pointer, which also covers imported host memory
// (buffer_import_host), whose buffer address is a device alias of host pages.
#include "device.hpp"
#include "slots.hpp"

namespace kiln::cuda {
namespace {

Block* as_block(kiln_buffer_t handle) { return reinterpret_cast<Block*>(handle); }
Stream* as_stream(kiln_stream_t handle) { return reinterpret_cast<Stream*>(handle); }

void check_range(const char* what, const Block* block, uint64_t offset, uint64_t bytes) {
  if (offset > block->requested || bytes > block->requested - offset)
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", what, " of ", bytes, " bytes at offset ", offset,
         " overruns a buffer of ", block->requested, " bytes");
}

void check_copy(cudaError_t err, const char* what, uint64_t bytes) {
  if (err == cudaSuccess) return;
  (void)cudaGetLastError();
  fail(KILN_STATUS_DEVICE_ERROR, "cuda: ", what, " of ", bytes, " bytes: ", cudaGetErrorName(err), ": ",
       cudaGetErrorString(err), " (an asynchronous error may come from an earlier launch on this device)");
}

char* address(const Block* block, uint64_t offset) { return static_cast<char*>(block->ptr) + offset; }

}  // namespace

kiln_status buffer_alloc(kiln_device_t handle, uint64_t bytes, kiln_buffer_t* out) {
  return guard([&] {
    auto* device = reinterpret_cast<Device*>(handle);
    if (device == nullptr || out == nullptr) fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: buffer_alloc: null argument");
    *out = reinterpret_cast<kiln_buffer_t>(device->allocator().allocate(bytes));
  });
}

void buffer_free(kiln_buffer_t handle) {
  Block* block = as_block(handle);
  if (block == nullptr) return;
  (void)guard([&] { block->device->allocator().release(block); });
}

void* buffer_data(kiln_buffer_t handle) {
  Block* block = as_block(handle);
  return block ? block->ptr : nullptr;
}

// The v1 host copies: on the device's copy stream, after everything that used the block so far
// (Note [Stream ordering of reused blocks]).
kiln_status buffer_write(kiln_buffer_t handle, uint64_t offset, const void* src, uint64_t bytes) {
  return guard([&] {
    Block* block = as_block(handle);
    if (block == nullptr || (bytes > 0 && src == nullptr)) fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: buffer_write: null argument");
    check_range("buffer_write", block, offset, bytes);
    if (block->read_only) fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: buffer_write: the buffer is read-only imported host memory");
    if (bytes == 0) return;
    Device* device = block->device;
    device->make_current();
    Stream& copy = device->copy_stream();
    device->allocator().use(block, &copy, true);
    // Note [Pinned staging]: queued, and fenced so every later user waits for it.
    if (!device->staging.upload(copy.stream, address(block, offset), src, bytes)) {
      // Pageable memory: the call returns once the bytes are staged; the fence covers the DMA.
      check_copy(cudaMemcpyAsync(address(block, offset), src, bytes, cudaMemcpyDefault, copy.stream),
                 "buffer_write", bytes);
    }
    device->allocator().fence_after(block, &copy);
  });
}

kiln_status buffer_read(kiln_buffer_t handle, uint64_t offset, void* dst, uint64_t bytes) {
  return guard([&] {
    Block* block = as_block(handle);
    if (block == nullptr || (bytes > 0 && dst == nullptr)) fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: buffer_read: null argument");
    check_range("buffer_read", block, offset, bytes);
    if (bytes == 0) return;
    Device* device = block->device;
    device->make_current();
    Stream& copy = device->copy_stream();
    device->allocator().use(block, &copy, true);
    check_copy(cudaMemcpyAsync(dst, address(block, offset), bytes, cudaMemcpyDefault, copy.stream), "buffer_read",
               bytes);
    // Wait for this copy only, not for other threads' copies queued behind waits of their own.
    cudaEvent_t done = device->take_event();
    if (done == nullptr) {
      check_copy(cudaStreamSynchronize(copy.stream), "buffer_read", bytes);
      return;
    }
    cudaError_t err = cudaEventRecord(done, copy.stream);
    if (err == cudaSuccess) err = cudaEventSynchronize(done);
    device->give_event(done);
    check_copy(err, "buffer_read", bytes);
  });
}

// ---- stream-ordered copies ----
kiln_status buffer_write_async(kiln_stream_t stream_handle, kiln_buffer_t handle, uint64_t offset, const void* src,
                               uint64_t bytes) {
  return guard([&] {
    Stream* stream = as_stream(stream_handle);
    Block* block = as_block(handle);
    if (stream == nullptr || block == nullptr || (bytes > 0 && src == nullptr))
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: buffer_write_async: null argument");
    check_range("buffer_write_async", block, offset, bytes);
    if (block->read_only)
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: buffer_write_async: the buffer is read-only imported host memory");
    if (bytes == 0) return;
    stream->device->make_current();
    reset_reported_errors(stream);
    block->device->allocator().use(block, stream, false);
    check_copy(cudaMemcpyAsync(address(block, offset), src, bytes, cudaMemcpyDefault, stream->stream),
               "buffer_write_async", bytes);
  });
}

kiln_status buffer_read_async(kiln_stream_t stream_handle, kiln_buffer_t handle, uint64_t offset, void* dst,
                              uint64_t bytes) {
  return guard([&] {
    Stream* stream = as_stream(stream_handle);
    Block* block = as_block(handle);
    if (stream == nullptr || block == nullptr || (bytes > 0 && dst == nullptr))
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: buffer_read_async: null argument");
    check_range("buffer_read_async", block, offset, bytes);
    if (bytes == 0) return;
    stream->device->make_current();
    block->device->allocator().use(block, stream, false);
    check_copy(cudaMemcpyAsync(dst, address(block, offset), bytes, cudaMemcpyDefault, stream->stream),
               "buffer_read_async", bytes);
  });
}

kiln_status buffer_copy(kiln_stream_t stream_handle, kiln_buffer_t src_handle, uint64_t src_offset,
                        kiln_buffer_t dst_handle, uint64_t dst_offset, uint64_t bytes) {
  return guard([&] {
    Stream* stream = as_stream(stream_handle);
    Block *src = as_block(src_handle), *dst = as_block(dst_handle);
    if (stream == nullptr || src == nullptr || dst == nullptr)
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: buffer_copy: null argument");
    check_range("buffer_copy (source)", src, src_offset, bytes);
    check_range("buffer_copy (destination)", dst, dst_offset, bytes);
    if (src->device != stream->device || dst->device != stream->device)
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: buffer_copy: source on cuda:", src->device->index(),
           ", destination on cuda:", dst->device->index(), ", stream on cuda:", stream->device->index(),
           "; all three must be one device (buffer_copy_peer copies between devices)");
    if (dst->read_only) fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: buffer_copy: the destination is read-only imported host memory");
    if (src == dst && src_offset < dst_offset + bytes && dst_offset < src_offset + bytes)
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: buffer_copy: the ranges [", src_offset, ", ", src_offset + bytes, ") and [",
           dst_offset, ", ", dst_offset + bytes, ") of one buffer overlap");
    if (bytes == 0) return;
    stream->device->make_current();
    reset_reported_errors(stream);
    Allocator& allocator = stream->device->allocator();
    allocator.use(src, stream, false);
    allocator.use(dst, stream, false);
    check_copy(cudaMemcpyAsync(address(dst, dst_offset), address(src, src_offset), bytes, cudaMemcpyDefault,
                               stream->stream),
               "buffer_copy", bytes);
  });
}

int32_t device_can_access_peer(kiln_device_t device_handle, kiln_device_t peer_handle) {
  auto* device = reinterpret_cast<Device*>(device_handle);
  auto* peer = reinterpret_cast<Device*>(peer_handle);
  if (device == nullptr || peer == nullptr) return 0;
  if (device == peer) return 1;
  // buffer_copy_peer runs on the destination's stream and reads `device`'s memory from `peer`.
  int can = 0;
  if (cudaDeviceCanAccessPeer(&can, peer->index(), device->index()) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return can ? 1 : 0;
}

kiln_status buffer_copy_peer(kiln_stream_t stream_handle, kiln_buffer_t src_handle, uint64_t src_offset,
                             kiln_buffer_t dst_handle, uint64_t dst_offset, uint64_t bytes) {
  return guard([&] {
    Stream* stream = as_stream(stream_handle);
    Block *src = as_block(src_handle), *dst = as_block(dst_handle);
    if (stream == nullptr || src == nullptr || dst == nullptr)
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: buffer_copy_peer: null argument");
    check_range("buffer_copy_peer (source)", src, src_offset, bytes);
    check_range("buffer_copy_peer (destination)", dst, dst_offset, bytes);
    if (dst->device != stream->device)
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: buffer_copy_peer: the stream (cuda:", stream->device->index(),
           ") must belong to the destination's device (cuda:", dst->device->index(), ")");
    if (dst->read_only)
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: buffer_copy_peer: the destination is read-only imported host memory");
    if (bytes == 0) return;
    stream->device->make_current();
    reset_reported_errors(stream);
    // Direct when the hardware allows (enabled once per pair); otherwise the driver stages the
    // copy through host memory, still ordered on the stream.
    (void)stream->device->enable_peer_access(src->device->index());
    src->device->allocator().use(src, stream, false);  // waits for the source device's users
    dst->device->allocator().use(dst, stream, false);
    cudaError_t err = src->imported || dst->imported
                          ? cudaMemcpyAsync(address(dst, dst_offset), address(src, src_offset), bytes, cudaMemcpyDefault,
                                            stream->stream)
                          : cudaMemcpyPeerAsync(address(dst, dst_offset), dst->device->index(),
                                                address(src, src_offset), src->device->index(), bytes, stream->stream);
    check_copy(err, "buffer_copy_peer", bytes);
  });
}

// ---- pinned and imported host memory ----
kiln_status host_alloc(kiln_device_t handle, uint64_t bytes, void** out) {
  return guard([&] {
    auto* device = reinterpret_cast<Device*>(handle);
    if (device == nullptr || out == nullptr) fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: host_alloc: null argument");
    device->make_current();
    *out = nullptr;
    // Portable: pinned for every device, not only this one. A zero-byte request still gets a
    // distinct pointer that host_free takes.
    cudaError_t err = cudaHostAlloc(out, bytes > 0 ? bytes : 1, cudaHostAllocPortable);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      fail(err == cudaErrorMemoryAllocation ? KILN_STATUS_OUT_OF_MEMORY : KILN_STATUS_DEVICE_ERROR,
           "cuda: host_alloc of ", bytes, " bytes of pinned host memory: ", cudaGetErrorName(err), ": ",
           cudaGetErrorString(err));
    }
  });
}

void host_free(kiln_device_t, void* ptr) {
  if (ptr == nullptr) return;
  cudaFreeHost(ptr);
  (void)cudaGetLastError();
}

kiln_status buffer_import_host(kiln_device_t handle, void* ptr, uint64_t bytes, kiln_buffer_t* out) {
  return guard([&] {
    auto* device = reinterpret_cast<Device*>(handle);
    if (device == nullptr || out == nullptr || (bytes > 0 && ptr == nullptr))
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: buffer_import_host: null argument");
    device->make_current();
    // Registering needs an I/O-coherent device (cudaDevAttrHostRegisterSupported) that can map
    // host memory into its address space.
    int can_map = 0, can_register = 0;
    if (cudaDeviceGetAttribute(&can_map, cudaDevAttrCanMapHostMemory, device->index()) != cudaSuccess ||
        cudaDeviceGetAttribute(&can_register, cudaDevAttrHostRegisterSupported, device->index()) != cudaSuccess ||
        !can_map || !can_register) {
      (void)cudaGetLastError();
      fail(KILN_STATUS_UNSUPPORTED, "cuda: buffer_import_host: cuda:", device->index(),
           " cannot address registered host memory (can map host memory: ", can_map, ", host register supported: ",
           can_register, ")");
    }
    if (bytes == 0) {  // nothing to register; a valid, empty buffer
      *out = reinterpret_cast<kiln_buffer_t>(device->allocator().import(nullptr, nullptr, 0, false));
      return;
    }
    bool read_only = false;
    cudaError_t err = cudaHostRegister(ptr, bytes, cudaHostRegisterMapped | cudaHostRegisterPortable);
    if (err != cudaSuccess && err != cudaErrorHostMemoryAlreadyRegistered) {
      // Read-only pages (a file mapped with PROT_READ) register only as read-only, where supported.
      (void)cudaGetLastError();
      int read_only_ok = 0;
      if (cudaDeviceGetAttribute(&read_only_ok, cudaDevAttrHostRegisterReadOnlySupported, device->index()) ==
              cudaSuccess &&
          read_only_ok) {
        cudaError_t again =
            cudaHostRegister(ptr, bytes, cudaHostRegisterMapped | cudaHostRegisterPortable | cudaHostRegisterReadOnly);
        if (again == cudaSuccess) {
          err = cudaSuccess;
          read_only = true;
        }
      }
      (void)cudaGetLastError();
    }
    if (err == cudaErrorHostMemoryAlreadyRegistered) {
      (void)cudaGetLastError();
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: buffer_import_host: ", bytes, " bytes at ", ptr,
           " overlap host memory that is already registered (imported or pinned)");
    }
    if (err != cudaSuccess)
      fail(KILN_STATUS_UNSUPPORTED, "cuda: buffer_import_host: cudaHostRegister of ", bytes, " bytes at ", ptr,
           " failed: ", cudaGetErrorName(err), ": ", cudaGetErrorString(err));
    void* device_ptr = nullptr;
    err = cudaHostGetDevicePointer(&device_ptr, ptr, 0);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      cudaHostUnregister(ptr);
      (void)cudaGetLastError();
      fail(KILN_STATUS_UNSUPPORTED, "cuda: buffer_import_host: no device address for the registered memory: ",
           cudaGetErrorName(err), ": ", cudaGetErrorString(err));
    }
    *out = reinterpret_cast<kiln_buffer_t>(device->allocator().import(device_ptr, ptr, bytes, read_only));
  });
}

}  // namespace kiln::cuda
