// The C table's slots, by the file that implements them; backend.cpp fills the table.
#ifndef KILN_BACKENDS_CUDA_SLOTS_HPP
#define KILN_BACKENDS_CUDA_SLOTS_HPP

#include "common.hpp"

#include <string>

namespace kiln::cuda {

// stream.cpp: streams, events and the deferred errors they report.
kiln_status stream_create(kiln_device_t device, kiln_stream_t* out);
void stream_destroy(kiln_stream_t stream);
kiln_status stream_synchronize(kiln_stream_t stream);
uint64_t stream_failed_launch(kiln_stream_t stream);
kiln_status event_create(kiln_device_t device, kiln_event_t* out);
void event_destroy(kiln_event_t event);
kiln_status event_record(kiln_event_t event, kiln_stream_t stream);
kiln_status stream_wait_event(kiln_stream_t stream, kiln_event_t event);
kiln_status event_synchronize(kiln_event_t event);
kiln_status event_query(kiln_event_t event);
// Before a launch on `stream`: clears an index error that event_synchronize already reported.
void reset_reported_errors(Stream* stream);

// memory.cpp: buffers, host copies, stream-ordered and peer copies, pinned and imported memory.
kiln_status buffer_alloc(kiln_device_t device, uint64_t bytes, kiln_buffer_t* out);
void buffer_free(kiln_buffer_t buffer);
void* buffer_data(kiln_buffer_t buffer);
kiln_status buffer_write(kiln_buffer_t buffer, uint64_t offset, const void* src, uint64_t bytes);
kiln_status buffer_read(kiln_buffer_t buffer, uint64_t offset, void* dst, uint64_t bytes);
kiln_status buffer_write_async(kiln_stream_t stream, kiln_buffer_t dst, uint64_t dst_offset, const void* src,
                               uint64_t bytes);
kiln_status buffer_read_async(kiln_stream_t stream, kiln_buffer_t src, uint64_t src_offset, void* dst, uint64_t bytes);
kiln_status buffer_copy(kiln_stream_t stream, kiln_buffer_t src, uint64_t src_offset, kiln_buffer_t dst,
                        uint64_t dst_offset, uint64_t bytes);
int32_t device_can_access_peer(kiln_device_t device, kiln_device_t peer);
kiln_status buffer_copy_peer(kiln_stream_t stream, kiln_buffer_t src, uint64_t src_offset, kiln_buffer_t dst,
                             uint64_t dst_offset, uint64_t bytes);
kiln_status host_alloc(kiln_device_t device, uint64_t bytes, void** out);
void host_free(kiln_device_t device, void* ptr);
kiln_status buffer_import_host(kiln_device_t device, void* ptr, uint64_t bytes, kiln_buffer_t* out);

}  // namespace kiln::cuda

#endif  // KILN_BACKENDS_CUDA_SLOTS_HPP
