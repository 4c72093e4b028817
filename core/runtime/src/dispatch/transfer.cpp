// Copies between devices (Tensor::to, read_bytes/write_bytes on a device): Note [Transfers].
//
// Note [Transfers]: bytes move straight between the two storages, never through a std::vector:
//  - host memory to host memory: memcpy (one memory domain);
//  - host to an ABI v2 device: through the device's pinned staging buffers (host_alloc), two chunks
//    in flight: chunk k is copied into pinned buffer k % 2 and written with buffer_write_async on
//    the device's stream, and an event recorded after it guards the buffer's next use. The call
//    returns once the last chunk is queued: the source may be freed at once (it was copied into
//    pinned memory) and later launches on the stream are ordered after the copy;
//  - an ABI v2 device to host: buffer_read_async into the pinned buffers, each chunk copied out
//    once its event completes;
//  - two devices of one v2 backend: buffer_copy (same device), or buffer_copy_peer on the
//    destination's stream after it waits for an event recorded on the source's stream (peers), or
//    a hop through the source's pinned buffers where the devices are not peers;
//  - a v1 device plugin: its synchronous buffer_read/buffer_write, straight into (out of) the host
//    tensor's memory; two devices of different backends: through the host, chunk by chunk.
// Each device's stream is used under its stream mutex (the ABI's threading contract: one thread at
// a time per stream), and the staging buffers under the stage's own mutex.
#include <kiln/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "dispatch/dispatch.hpp"
#include "plugin_host/registry.hpp"

namespace kiln::detail {

namespace {

constexpr size_t kStageChunk = size_t{4} << 20;  // bytes per pinned staging buffer

bool speaks_v2(const BackendEntry* b) {
  return b->abi_version >= 2 &&
         b->has_slot(offsetof(kiln_backend_api, stream_failed_launch), sizeof(b->api->stream_failed_launch));
}

void check(kiln_status status, const BackendEntry* b, const char* what, size_t bytes) {
  KILN_CHECK(status == KILN_STATUS_OK, DeviceError, what, " of ", bytes, " bytes on ", b->name, " failed: ",
             b->last_error());
}

// Two pinned buffers and their events, per device, created on first use and kept for the process.
struct Stage {
  std::mutex mutex;
  void* buffer[2] = {nullptr, nullptr};
  kiln_event_t done[2] = {nullptr, nullptr};
  bool pending[2] = {false, false};
  bool ready = false;
};

Stage& stage_of(BackendEntry* b, DeviceEntry* d) {
  static std::mutex mutex;
  static std::unordered_map<const DeviceEntry*, std::unique_ptr<Stage>> stages;
  Stage* stage;
  {
    std::lock_guard lock(mutex);
    auto& slot = stages[d];
    if (!slot) slot = std::make_unique<Stage>();
    stage = slot.get();
  }
  std::lock_guard lock(stage->mutex);
  if (!stage->ready) {
    for (int k = 0; k < 2; ++k) {
      check(b->api->host_alloc(d->handle, kStageChunk, &stage->buffer[k]), b, "allocating pinned staging memory",
            kStageChunk);
      check(b->api->event_create(d->handle, &stage->done[k]), b, "creating an event", 0);
    }
    stage->ready = true;
  }
  return *stage;
}

// Waits until pinned buffer k's last copy is done (the caller holds the stage's mutex).
// An error here may be a kernel's that ran before the copy (Note [Deferred errors]).
void wait_buffer(BackendEntry* b, DeviceEntry* d, Stage& stage, int k) {
  if (!stage.pending[k]) return;
  stage.pending[k] = false;
  kiln_status s = b->api->event_synchronize(stage.done[k]);
  if (s == KILN_STATUS_OK) return;
  uint64_t failed = 0;
  {
    std::lock_guard stream_lock(d->stream_mutex);
    failed = b->api->stream_failed_launch(d->stream);
  }
  throw_deferred_error(b, *d, std::string(b->name) + ":" + d->props.name, s, failed);
}

// The stream a copy to `d` runs on, and its mutex: the main stream, or the side stream (created on
// first use) for a copy that overlaps compute.
std::pair<kiln_stream_t, std::mutex*> copy_stream_of(BackendEntry* b, DeviceEntry* d, bool side_stream) {
  if (!side_stream) return {d->stream, &d->stream_mutex};
  std::lock_guard lock(d->copy_stream_mutex);
  if (d->copy_stream == nullptr)
    check(b->api->stream_create(d->handle, &d->copy_stream), b, "creating the copy stream", 0);
  return {d->copy_stream, &d->copy_stream_mutex};
}

void host_to_device(const void* src, const Storage& dst, size_t dst_offset, size_t bytes, bool side_stream = false) {
  BackendEntry* b = dst.backend;
  DeviceEntry* d = dst.device;
  if (!speaks_v2(b)) {
    // synchronous: queued kernels may still read the bytes this overwrites
    std::lock_guard stream_lock(d->stream_mutex);
    check(b->api->stream_synchronize(d->stream), b, "synchronizing before a write", bytes);
    check(b->api->buffer_write(dst.block.buffer, dst_offset, src, bytes), b, "writing", bytes);
    return;
  }
  auto [stream, stream_mutex] = copy_stream_of(b, d, side_stream);
  Stage& stage = stage_of(b, d);
  std::lock_guard lock(stage.mutex);
  for (size_t done = 0, chunk = 0; done < bytes; done += kStageChunk, ++chunk) {
    int k = static_cast<int>(chunk % 2);
    size_t n = std::min(kStageChunk, bytes - done);
    wait_buffer(b, d, stage, k);
    std::memcpy(stage.buffer[k], static_cast<const char*>(src) + done, n);
    std::lock_guard stream_lock(*stream_mutex);
    check(b->api->buffer_write_async(stream, dst.block.buffer, dst_offset + done, stage.buffer[k], n), b,
          "writing", n);
    check(b->api->event_record(stage.done[k], stream), b, "recording an event", n);
    stage.pending[k] = true;
  }
  if (side_stream) {
    // every later launch on the main stream waits for the copy; earlier ones overlap it
    kiln_event_t copied = nullptr;
    check(b->api->event_create(d->handle, &copied), b, "creating an event", 0);
    {
      std::lock_guard stream_lock(*stream_mutex);
      check(b->api->event_record(copied, stream), b, "recording an event", bytes);
    }
    std::lock_guard main_lock(d->stream_mutex);
    kiln_status s = b->api->stream_wait_event(d->stream, copied);
    b->api->event_destroy(copied);
    check(s, b, "ordering the main stream after a copy", bytes);
  }
}

void device_to_host(const Storage& src, size_t src_offset, void* dst, size_t bytes) {
  BackendEntry* b = src.backend;
  DeviceEntry* d = src.device;
  if (!speaks_v2(b)) {
    std::lock_guard stream_lock(d->stream_mutex);
    check(b->api->stream_synchronize(d->stream), b, "synchronizing before a read", bytes);
    check(b->api->buffer_read(src.block.buffer, src_offset, dst, bytes), b, "reading", bytes);
    return;
  }
  Stage& stage = stage_of(b, d);
  std::lock_guard lock(stage.mutex);
  size_t queued[2] = {0, 0}, at[2] = {0, 0};
  auto drain = [&](int k) {
    if (!stage.pending[k]) return;
    wait_buffer(b, d, stage, k);
    std::memcpy(static_cast<char*>(dst) + at[k], stage.buffer[k], queued[k]);
  };
  for (size_t done = 0, chunk = 0; done < bytes; done += kStageChunk, ++chunk) {
    int k = static_cast<int>(chunk % 2);
    drain(k);
    size_t n = std::min(kStageChunk, bytes - done);
    {
      std::lock_guard stream_lock(d->stream_mutex);
      check(b->api->buffer_read_async(d->stream, src.block.buffer, src_offset + done, stage.buffer[k], n), b,
            "reading", n);
      check(b->api->event_record(stage.done[k], d->stream), b, "recording an event", n);
    }
    stage.pending[k] = true;
    queued[k] = n;
    at[k] = done;
  }
  // the older chunk first, so dst fills in order (not needed for correctness)
  size_t chunks = (bytes + kStageChunk - 1) / kStageChunk;
  int last = static_cast<int>((chunks - 1) % 2);
  drain(1 - last);
  drain(last);
}

void device_to_device(const Storage& src, size_t src_offset, const Storage& dst, size_t dst_offset, size_t bytes) {
  BackendEntry* b = dst.backend;
  if (src.backend == dst.backend && speaks_v2(b)) {
    if (src.device == dst.device) {
      std::lock_guard stream_lock(dst.device->stream_mutex);
      check(b->api->buffer_copy(dst.device->stream, src.block.buffer, src_offset, dst.block.buffer, dst_offset, bytes),
            b, "copying", bytes);
      return;
    }
    if (b->api->device_can_access_peer(src.device->handle, dst.device->handle) == 1) {
      // the copy runs on the destination's stream, after the source's queued work
      kiln_event_t ready = nullptr;
      check(b->api->event_create(src.device->handle, &ready), b, "creating an event", 0);
      struct Destroy {
        BackendEntry* b;
        kiln_event_t e;
        ~Destroy() { b->api->event_destroy(e); }
      } destroy{b, ready};
      {
        std::lock_guard src_lock(src.device->stream_mutex);
        check(b->api->event_record(ready, src.device->stream), b, "recording an event", 0);
      }
      std::lock_guard dst_lock(dst.device->stream_mutex);
      check(b->api->stream_wait_event(dst.device->stream, ready), b, "ordering a peer copy", bytes);
      check(b->api->buffer_copy_peer(dst.device->stream, src.block.buffer, src_offset, dst.block.buffer, dst_offset,
                                     bytes),
            b, "copying between peers", bytes);
      return;
    }
  }
  // Through the host, one chunk at a time.
  std::vector<unsigned char> chunk(std::min(bytes, kStageChunk));
  for (size_t done = 0; done < bytes; done += chunk.size()) {
    size_t n = std::min(chunk.size(), bytes - done);
    device_to_host(src, src_offset + done, chunk.data(), n);
    host_to_device(chunk.data(), dst, dst_offset + done, n);
    // host_to_device copied the chunk into pinned memory (or wrote it synchronously): reusable
  }
}

}  // namespace

void copy_storage(const Storage& src, size_t src_offset, const Storage& dst, size_t dst_offset, size_t bytes,
                  bool side_stream) {
  if (bytes == 0) return;
  KILN_ASSERT(src_offset + bytes <= src.bytes && dst_offset + bytes <= dst.bytes, "copy past the end of storage");
  const bool src_host = src.backend->host_accessible, dst_host = dst.backend->host_accessible;
  if (src_host && dst_host) {
    std::memmove(static_cast<char*>(dst.data()) + dst_offset, static_cast<const char*>(src.data()) + src_offset, bytes);
  } else if (src_host) {
    host_to_device(static_cast<const char*>(src.data()) + src_offset, dst, dst_offset, bytes, side_stream);
  } else if (dst_host) {
    device_to_host(src, src_offset, static_cast<char*>(dst.data()) + dst_offset, bytes);
  } else {
    device_to_device(src, src_offset, dst, dst_offset, bytes);
  }
}

void read_bytes(const Tensor& t, size_t byte_offset, void* dst, size_t bytes) {
  if (bytes == 0) return;
  Storage& s = *t.impl()->storage;
  KILN_ASSERT(byte_offset + bytes <= s.bytes, "read past the end of storage");
  if (s.backend->host_accessible) {
    std::memcpy(dst, static_cast<const char*>(s.data()) + byte_offset, bytes);
    return;
  }
  device_to_host(s, byte_offset, dst, bytes);
}

void write_bytes(const Tensor& t, size_t byte_offset, const void* src, size_t bytes) {
  if (bytes == 0) return;
  Storage& s = *t.impl()->storage;
  KILN_ASSERT(byte_offset + bytes <= s.bytes, "write past the end of storage");
  if (s.backend->host_accessible) {
    std::memcpy(static_cast<char*>(s.data()) + byte_offset, src, bytes);
    return;
  }
  host_to_device(src, s, byte_offset, bytes);
}

}  // namespace kiln::detail
