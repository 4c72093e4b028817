// Streams and events, and the deferred errors their synchronize calls report (Note [Deferred
// index errors] in index_check.hpp).
#include "device.hpp"
#include "slots.hpp"

#include <atomic>
#include <cstring>
#include <memory>
#include <sstream>

namespace kiln::cuda {
namespace {

std::string describe_position(const IndexErrorRecord& r) {
  // Row-major element number -> coordinates in the index tensor's shape.
  const int32_t ndim = r.index_ndim < 0 || r.index_ndim > KILN_MAX_DIMS ? 0 : r.index_ndim;
  int64_t coords[KILN_MAX_DIMS] = {};
  int64_t rest = r.position;
  for (int32_t d = ndim - 1; d >= 0; --d) {
    const int64_t extent = r.index_shape[d] > 0 ? r.index_shape[d] : 1;
    coords[d] = rest % extent;
    rest /= extent;
  }
  std::ostringstream os;
  os << "[";
  for (int32_t d = 0; d < ndim; ++d) os << (d ? ", " : "") << coords[d];
  os << "] of the index tensor of shape [";
  for (int32_t d = 0; d < ndim; ++d) os << (d ? ", " : "") << r.index_shape[d];
  os << "]";
  return os.str();
}

// After the work of `errors`'s stream up to launch `upto_seq` has completed: the first recorded
// index error of those launches not yet reported, as a status and message. With `idle` (the
// stream has nothing in flight: stream_synchronize) the record is also cleared for new errors.
kiln_status report_index_errors(ErrorState& errors, uint64_t upto_seq, bool idle, cudaStream_t cu_stream,
                                const char* caller) {
  std::lock_guard<std::mutex> lock(errors.mutex);
  volatile IndexErrorRecord* record = errors.record;
  if (record == nullptr) return KILN_STATUS_OK;
  kiln_status status = KILN_STATUS_OK;
  std::string message;
  const bool set = record->set != 0;
  std::atomic_thread_fence(std::memory_order_acquire);
  if (set) {
    IndexErrorRecord r;
    std::memcpy(&r, const_cast<const IndexErrorRecord*>(errors.record), sizeof r);
    if (r.seq <= upto_seq && r.seq != errors.reported_seq) {
      std::ostringstream os;
      os << "cuda: " << op_name(r.op);
      if (r.launch_id != 0) os << " (launch " << r.launch_id << ")";
      os << ": index " << r.value << " at position " << describe_position(r) << " is out of range for dimension "
         << r.dim << " of size " << r.bound << " (valid range [0, " << r.bound << "))";
      if (idle && record->more != 0) os << "; later index launches on this stream also had out-of-range indices";
      os << " (checked on the GPU after the launch returned; reported by " << caller << ")";
      message = os.str();
      status = KILN_STATUS_INDEX_OUT_OF_RANGE;
      errors.reported_seq = r.seq;
      errors.failed_launch.store(r.launch_id);
    }
  }
  if (idle) {
    if (status == KILN_STATUS_OK && record->more != 0) {
      message = std::string("cuda: an index op (gather, scatter_add, index_select, embedding or embedding_backward) "
                            "on this stream had an out-of-range index after an earlier one was recorded; its "
                            "details were not kept (reported by ") + caller + ")";
      status = KILN_STATUS_INDEX_OUT_OF_RANGE;
      errors.failed_launch.store(0);
    }
    if (set || record->more != 0) {
      record->set = 0;
      record->more = 0;
      errors.reported_seq = 0;
      errors.needs_reset.store(false);
      // Stream-ordered: the stream's later launches find the claim free.
      cudaError_t err = cudaMemsetAsync(errors.claim, 0, sizeof(unsigned int), cu_stream);
      if (err != cudaSuccess) (void)cudaGetLastError();
    }
  } else if (status != KILN_STATUS_OK) {
    errors.needs_reset.store(true);
  }
  if (status != KILN_STATUS_OK) return set_error(status, message);
  return KILN_STATUS_OK;
}

kiln_status late_device_error(cudaError_t err, ErrorState* errors, uint64_t last_launch_id, const char* last_op,
                              const char* caller) {
  (void)cudaGetLastError();
  std::ostringstream os;
  os << "cuda: " << caller << ": a kernel failed: " << cudaGetErrorName(err) << ": " << cudaGetErrorString(err)
     << " (the failing launch is not known";
  if (last_launch_id != 0 || last_op != nullptr) {
    os << "; the last launch on this stream was";
    if (last_op != nullptr) os << " " << last_op;
    if (last_launch_id != 0) os << " (launch " << last_launch_id << ")";
  }
  os << ")";
  if (errors != nullptr) errors->failed_launch.store(last_launch_id);
  return set_error(err == cudaErrorMemoryAllocation ? KILN_STATUS_OUT_OF_MEMORY : KILN_STATUS_DEVICE_ERROR, os.str());
}

}  // namespace

IndexCheck index_check(const Context& ctx, int32_t dim, int64_t bound, const kiln_tensor_desc& index,
                       int64_t pos_inner, int64_t pos_extent) {
  IndexCheck c{};
  ErrorState* errors = ctx.stream->errors.get();
  if (errors == nullptr)
    fail(KILN_STATUS_INTERNAL, "cuda: ", ctx.op_name, ": no error record on this stream (a bug in the cuda backend)");
  c.claim = errors->claim;
  c.record = errors->record_device;
  c.launch_id = ctx.launch_id;
  c.seq = ctx.stream->launch_seq;
  c.claim_tag = static_cast<unsigned int>(c.seq);
  if (c.claim_tag == 0) c.claim_tag = 1;
  c.op = ctx.op;
  c.dim = dim;
  c.bound = bound;
  c.pos_inner = pos_inner > 0 ? pos_inner : 1;
  c.pos_extent = pos_extent > 0 ? pos_extent : 1;
  c.index_ndim = index.ndim;
  for (int32_t d = 0; d < index.ndim && d < KILN_MAX_DIMS; ++d) c.index_shape[d] = index.shape[d];
  return c;
}

void reset_reported_errors(Stream* stream) {
  ErrorState* errors = stream->errors.get();
  if (errors == nullptr || !errors->needs_reset.load(std::memory_order_relaxed)) return;
  std::lock_guard<std::mutex> lock(errors->mutex);
  if (!errors->needs_reset.load()) return;
  // The reported launch still holds the claim, so no kernel writes the record until the memset
  // below has run; `more` stays, for launches already in flight.
  errors->record->set = 0;
  errors->reported_seq = 0;
  errors->needs_reset.store(false);
  check_runtime(cudaMemsetAsync(errors->claim, 0, sizeof(unsigned int), stream->stream),
                "clearing the stream's index error record (cudaMemsetAsync)");
}

// ---- streams ----
kiln_status stream_create(kiln_device_t handle, kiln_stream_t* out) {
  return guard([&] {
    auto* device = reinterpret_cast<Device*>(handle);
    if (device == nullptr || out == nullptr) fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: stream_create: null argument");
    device->make_current();
    auto stream = std::make_unique<Stream>();
    stream->device = device;
    auto errors = std::make_shared<ErrorState>();
    errors->device_index = device->index();
    // Note [Deferred index errors]
    check_runtime(cudaMalloc(reinterpret_cast<void**>(&errors->claim), sizeof(unsigned int)),
                  "stream_create: the index error claim (cudaMalloc)");
    check_runtime(cudaHostAlloc(reinterpret_cast<void**>(&errors->record), sizeof(IndexErrorRecord),
                                cudaHostAllocMapped | cudaHostAllocPortable),
                  "stream_create: the index error record (cudaHostAlloc, mapped)");
    std::memset(errors->record, 0, sizeof(IndexErrorRecord));
    check_runtime(cudaHostGetDevicePointer(reinterpret_cast<void**>(&errors->record_device), errors->record, 0),
                  "stream_create: cudaHostGetDevicePointer");
    // Non-blocking: the host's streams run concurrently with each other and with the legacy
    // default stream; every ordering between them is an explicit event.
    check_runtime(cudaStreamCreateWithFlags(&stream->stream, cudaStreamNonBlocking),
                  "stream_create: cudaStreamCreateWithFlags");
    // On the stream itself: ordered before every kernel that may claim it.
    cudaError_t err = cudaMemsetAsync(errors->claim, 0, sizeof(unsigned int), stream->stream);
    if (err != cudaSuccess) {
      cudaStreamDestroy(stream->stream);
      check_runtime(err, "stream_create: cudaMemsetAsync");
    }
    stream->errors = std::move(errors);
    *out = reinterpret_cast<kiln_stream_t>(stream.release());
  });
}

void stream_destroy(kiln_stream_t handle) {
  auto* stream = reinterpret_cast<Stream*>(handle);
  if (stream == nullptr) return;
  (void)guard([&] {
    stream->device->make_current();
    cudaStreamSynchronize(stream->stream);
    (void)cudaGetLastError();
    // Every device's allocator: a peer copy makes a stream the user of another device's block.
    for (Device* device : all_devices()) device->allocator().forget_stream(stream);
    // Pooled, not destroyed: cached cuDNN plans keep the handle they were built with.
    stream->device->give_handles(stream->blas, stream->dnn);
    cudaStreamDestroy(stream->stream);
    (void)cudaGetLastError();
  });
  delete stream;  // the error record lives on while an event recorded here refers to it
}

kiln_status stream_synchronize(kiln_stream_t handle) {
  auto* stream = reinterpret_cast<Stream*>(handle);
  if (stream == nullptr) return set_error(KILN_STATUS_INVALID_ARGUMENT, "cuda: stream_synchronize: null stream");
  kiln_status status = guard([&] { stream->device->make_current(); });
  if (status != KILN_STATUS_OK) return status;
  cudaError_t err = cudaStreamSynchronize(stream->stream);
  if (err != cudaSuccess)
    return late_device_error(err, stream->errors.get(), stream->last_launch_id, stream->last_op, "stream_synchronize");
  return report_index_errors(*stream->errors, stream->launch_seq, true, stream->stream, "stream_synchronize");
}

uint64_t stream_failed_launch(kiln_stream_t handle) {
  auto* stream = reinterpret_cast<Stream*>(handle);
  if (stream == nullptr || stream->errors == nullptr) return 0;
  return stream->errors->failed_launch.exchange(0);
}

// ---- events ----
kiln_status event_create(kiln_device_t handle, kiln_event_t* out) {
  return guard([&] {
    auto* device = reinterpret_cast<Device*>(handle);
    if (device == nullptr || out == nullptr) fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: event_create: null argument");
    DeviceGuard on(device->index());
    auto event = std::make_unique<Event>();
    event->device = device;
    check_runtime(cudaEventCreateWithFlags(&event->event, cudaEventDisableTiming), "event_create: cudaEventCreate");
    *out = reinterpret_cast<kiln_event_t>(event.release());
  });
}

void event_destroy(kiln_event_t handle) {
  auto* event = reinterpret_cast<Event*>(handle);
  if (event == nullptr) return;
  {
    DeviceGuard on(event->device->index());
    cudaEventDestroy(event->event);  // released by the driver once recorded work completes
    (void)cudaGetLastError();
  }
  delete event;
}

kiln_status event_record(kiln_event_t event_handle, kiln_stream_t stream_handle) {
  return guard([&] {
    auto* event = reinterpret_cast<Event*>(event_handle);
    auto* stream = reinterpret_cast<Stream*>(stream_handle);
    if (event == nullptr || stream == nullptr) fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: event_record: null argument");
    if (event->device != stream->device)
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: event_record: the event belongs to cuda:", event->device->index(),
           " but the stream to cuda:", stream->device->index(), " (record an event of the stream's device)");
    stream->device->make_current();
    check_runtime(cudaEventRecord(event->event, stream->stream), "event_record: cudaEventRecord");
    std::lock_guard<std::mutex> lock(event->mutex);
    event->errors = stream->errors;
    event->seq = stream->launch_seq;
    event->last_launch_id = stream->last_launch_id;
    event->last_op = stream->last_op;
  });
}

kiln_status stream_wait_event(kiln_stream_t stream_handle, kiln_event_t event_handle) {
  return guard([&] {
    auto* event = reinterpret_cast<Event*>(event_handle);
    auto* stream = reinterpret_cast<Stream*>(stream_handle);
    if (event == nullptr || stream == nullptr)
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: stream_wait_event: null argument");
    stream->device->make_current();
    // Works across devices: a stream may wait on another device's event.
    check_runtime(cudaStreamWaitEvent(stream->stream, event->event, 0), "stream_wait_event: cudaStreamWaitEvent");
  });
}

kiln_status event_synchronize(kiln_event_t handle) {
  auto* event = reinterpret_cast<Event*>(handle);
  if (event == nullptr) return set_error(KILN_STATUS_INVALID_ARGUMENT, "cuda: event_synchronize: null event");
  std::shared_ptr<ErrorState> errors;
  uint64_t seq = 0, last_launch_id = 0;
  const char* last_op = nullptr;
  {
    std::lock_guard<std::mutex> lock(event->mutex);
    errors = event->errors;
    seq = event->seq;
    last_launch_id = event->last_launch_id;
    last_op = event->last_op;
  }
  cudaError_t err = cudaEventSynchronize(event->event);
  if (err != cudaSuccess) return late_device_error(err, errors.get(), last_launch_id, last_op, "event_synchronize");
  if (errors == nullptr) return KILN_STATUS_OK;  // never recorded
  return report_index_errors(*errors, seq, false, nullptr, "event_synchronize");
}

kiln_status event_query(kiln_event_t handle) {
  auto* event = reinterpret_cast<Event*>(handle);
  if (event == nullptr) return set_error(KILN_STATUS_INVALID_ARGUMENT, "cuda: event_query: null event");
  cudaError_t err = cudaEventQuery(event->event);
  if (err == cudaSuccess) return KILN_STATUS_OK;
  if (err == cudaErrorNotReady) {
    (void)cudaGetLastError();
    return KILN_STATUS_NOT_READY;
  }
  uint64_t last_launch_id = 0;
  const char* last_op = nullptr;
  std::shared_ptr<ErrorState> errors;
  {
    std::lock_guard<std::mutex> lock(event->mutex);
    errors = event->errors;
    last_launch_id = event->last_launch_id;
    last_op = event->last_op;
  }
  return late_device_error(err, errors.get(), last_launch_id, last_op, "event_query");
}

}  // namespace kiln::cuda
