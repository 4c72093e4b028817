// Header-only C++ kit for host-memory backend plugins (ABI v2).
//
// A backend derives from kiln::plugin::HostBackend, implements supports() and launch(), and
// exports itself with one macro:
//
//   class MyBackend final : public kiln::plugin::HostBackend {
//    public:
//     MyBackend() : HostBackend("mine", "1.0.0", /*priority=*/15) {}
//     bool supports(kiln_op op, const int32_t* dtypes, int32_t n, const void* attrs) override;
//     void launch(kiln_op op, const kiln_tensor_desc* in, int32_t n_in,
//                 const kiln_tensor_desc* out, int32_t n_out, const void* attrs) override;
//   };
//   KILN_EXPORT_HOST_BACKEND(MyBackend)
//
// launch() receives v2 descriptors and v2 attribute structs (struct_size first), whichever slot
// the host called: the kit converts a v1 host's launch (v1 descriptors, v1 attrs) and a v2 host's
// launch_v2 to the same call. A backend that decides on shapes or strides overrides
// supports_launch(); by default it asks the dtype-based supports().
//
// The kit owns everything else in the C table: one CPU device, 64-byte aligned host buffers
// (owned, or wrapping caller memory through buffer_import_host), synchronous no-op streams,
// events that are always complete, memcpy copies, no peers, pinned host memory as plain aligned
// memory, and the thread-local last-error message. launch() reports failure by throwing
// kiln::plugin::Failure (or any std::exception); the kit turns it into a status and a message, so
// no exception ever crosses the C boundary.
//
// Note [Kit launch validation]: launch_v2 runs kiln_validate_launch (op_info.h) before launch(),
// so a backend's launch() may assume the catalogue's rules (counts, dtypes, attrs present, ndim,
// pointwise shapes). It is a few dozen comparisons and no allocation (measured in
// docs/benchmarks.md), cheap next to the dispatch around it.
#ifndef KILN_PLUGIN_HOST_BACKEND_HPP
#define KILN_PLUGIN_HOST_BACKEND_HPP

#include <kiln/plugin/kiln_backend.h>
#include <kiln/plugin/op_info.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

namespace kiln::plugin {

// An error raised inside a plugin; becomes a kiln_status plus message at the boundary.
class Failure : public std::exception {
 public:
  Failure(kiln_status status, std::string message) : status_(status), message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }
  kiln_status status() const noexcept { return status_; }

 private:
  kiln_status status_;
  std::string message_;
};

template <typename... Args>
[[noreturn]] inline void fail(kiln_status status, const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  throw Failure(status, os.str());
}

inline std::string& last_error_slot() {
  thread_local std::string message;
  return message;
}

// Element address helpers (offsets in elements).
inline int64_t element_offset(const kiln_tensor_desc& d, const int64_t* index) {
  int64_t off = d.offset;
  for (int32_t k = 0; k < d.ndim; ++k) off += index[k] * d.strides[k];
  return off;
}
template <typename T>
inline T* typed(const kiln_tensor_desc& d) {
  return static_cast<T*>(d.data);
}

// A buffer of a host backend: a small header, then (when owned) the 64-byte aligned elements in
// the same allocation. An imported buffer wraps caller memory and never frees it.
struct HostBuffer {
  void* data;
  uint64_t bytes;
  int32_t owned;  // 1: data follows this header in one allocation; 0: imported caller memory
};
inline constexpr uint64_t kHostBufferHeader = 64;  // keeps data 64-byte aligned
static_assert(sizeof(HostBuffer) <= kHostBufferHeader);

class HostBackend {
 public:
  HostBackend(const char* name, const char* version, int32_t priority)
      : name_(name), version_(version), priority_(priority) {}
  virtual ~HostBackend() = default;
  HostBackend(const HostBackend&) = delete;
  HostBackend& operator=(const HostBackend&) = delete;

  // 1 if launch() runs op for these dtypes (inputs then outputs); attrs (v2 layout) may be NULL.
  virtual bool supports(kiln_op op, const int32_t* dtypes, int32_t num_dtypes, const void* attrs) = 0;
  // Shape-aware capability (device_supports); the launch's counts and descriptor sizes are already
  // checked. Default: the dtype-based supports().
  virtual bool supports_launch(const kiln_launch_desc& launch) {
    int32_t dtypes[KILN_OP_MAX_TENSORS];
    const int32_t n = kiln_launch_dtypes(&launch, dtypes);
    return n >= 0 && supports(static_cast<kiln_op>(launch.op), dtypes, n, launch.attrs);
  }
  virtual void launch(kiln_op op, const kiln_tensor_desc* inputs, int32_t num_inputs,
                      const kiln_tensor_desc* outputs, int32_t num_outputs, const void* attrs) = 0;
  // Shown by `kiln plugins`; override to name the instruction set or thread count.
  virtual std::string device_name() const { return "host CPU"; }
  virtual int32_t compute_units() const { return static_cast<int32_t>(std::thread::hardware_concurrency()); }
  // Called once by kiln_backend_init; a failure here makes the host report the plugin.
  virtual void initialize(const kiln_host_api* host) { host_ = host; }

  const kiln_host_api* host() const { return host_; }
  const char* name() const { return name_; }

  // The C table. abi_version is 2, or 1 for a v1 host (which refuses newer plugins and calls only
  // the v1 slots, which the kit converts).
  const kiln_backend_api* api(uint32_t host_abi_version = KILN_ABI_VERSION) {
    api_ = kiln_backend_api{};
    api_.struct_size = sizeof(kiln_backend_api);
    api_.abi_version = host_abi_version < KILN_ABI_VERSION ? host_abi_version : KILN_ABI_VERSION;
    api_.name = name_;
    api_.version = version_;
    api_.priority = priority_;
    api_.backend = reinterpret_cast<kiln_backend_t>(this);
    api_.last_error = [](kiln_backend_t) -> const char* { return last_error_slot().c_str(); };
    api_.status_note = [](kiln_backend_t) -> const char* { return nullptr; };
    api_.device_count = [](kiln_backend_t) -> int32_t { return 1; };
    api_.device_get = [](kiln_backend_t b, int32_t index, kiln_device_t* out) -> kiln_status {
      if (index != 0) return set_error(KILN_STATUS_INVALID_ARGUMENT, "device index out of range");
      *out = reinterpret_cast<kiln_device_t>(b);
      return KILN_STATUS_OK;
    };
    api_.device_props = [](kiln_device_t d, kiln_device_props* p) -> kiln_status {
      auto* self = reinterpret_cast<HostBackend*>(d);
      return guard([&] {
        std::memset(p, 0, sizeof(*p));
        p->struct_size = sizeof(kiln_device_props);
        p->abi_version = self->api_.abi_version;
        std::string n = self->device_name();
        std::strncpy(p->name, n.c_str(), sizeof(p->name) - 1);
        p->kind = KILN_DEVICE_CPU;
        p->host_accessible = 1;
        p->compute_units = self->compute_units();
        p->caches_memory = 0;  // core's caching allocator serves host backends
        p->async = 0;
        p->max_streams = 0;
      });
    };
    api_.buffer_alloc = [](kiln_device_t, uint64_t bytes, kiln_buffer_t* out) -> kiln_status {
      if (bytes > (UINT64_MAX >> 1)) return set_error(KILN_STATUS_OUT_OF_MEMORY, "host allocation size is absurd");
      const uint64_t rounded = (bytes + 63) / 64 * 64;
      void* p = std::aligned_alloc(64, kHostBufferHeader + rounded);
      if (p == nullptr) {
        std::ostringstream os;
        os << "host allocation of " << bytes << " bytes failed";
        return set_error(KILN_STATUS_OUT_OF_MEMORY, os.str());
      }
      auto* buffer = static_cast<HostBuffer*>(p);
      buffer->data = static_cast<char*>(p) + kHostBufferHeader;
      buffer->bytes = bytes;
      buffer->owned = 1;
      *out = reinterpret_cast<kiln_buffer_t>(buffer);
      return KILN_STATUS_OK;
    };
    // Owned: header and data are one allocation. Imported: the header alone is ours.
    api_.buffer_free = [](kiln_buffer_t b) { std::free(b); };
    api_.buffer_data = [](kiln_buffer_t b) -> void* { return b ? buffer_of(b)->data : nullptr; };
    api_.buffer_write = [](kiln_buffer_t b, uint64_t offset, const void* src, uint64_t bytes) -> kiln_status {
      if (bytes) std::memcpy(static_cast<char*>(buffer_of(b)->data) + offset, src, bytes);
      return KILN_STATUS_OK;
    };
    api_.buffer_read = [](kiln_buffer_t b, uint64_t offset, void* dst, uint64_t bytes) -> kiln_status {
      if (bytes) std::memcpy(dst, static_cast<const char*>(buffer_of(b)->data) + offset, bytes);
      return KILN_STATUS_OK;
    };
    api_.stream_create = [](kiln_device_t d, kiln_stream_t* out) -> kiln_status {
      *out = reinterpret_cast<kiln_stream_t>(d);  // the stream is the backend itself: synchronous
      return KILN_STATUS_OK;
    };
    api_.stream_destroy = [](kiln_stream_t) {};
    api_.stream_synchronize = [](kiln_stream_t) -> kiln_status { return KILN_STATUS_OK; };
    // v1 slots: attrs and descriptors in the v1 layout (a v1 host), converted to v2.
    api_.supports = [](kiln_backend_t b, kiln_op op, const int32_t* dtypes, int32_t n, const void* attrs_v1) -> int32_t {
      try {
        AttrsV2 attrs;
        return reinterpret_cast<HostBackend*>(b)->supports(op, dtypes, n, attrs.from_v1(op, attrs_v1)) ? 1 : 0;
      } catch (...) {
        return 0;
      }
    };
    api_.launch = [](kiln_stream_t s, kiln_op op, const kiln_tensor_desc_v1* in, int32_t nin,
                     const kiln_tensor_desc_v1* out, int32_t nout, const void* attrs_v1) -> kiln_status {
      if (nin < 0 || nout < 0 || nin + nout > KILN_OP_MAX_TENSORS || (nin > 0 && in == nullptr) || out == nullptr)
        return set_error(KILN_STATUS_INVALID_ARGUMENT, std::string(kiln_op_name(op)) + ": bad tensor counts or arrays");
      kiln_tensor_desc descs[KILN_OP_MAX_TENSORS];
      for (int32_t i = 0; i < nin + nout; ++i) descs[i] = from_v1(i < nin ? in[i] : out[i - nin]);
      AttrsV2 attrs;
      kiln_launch_desc launch{};
      launch.struct_size = sizeof(kiln_launch_desc);
      launch.op = op;
      launch.num_inputs = nin;
      launch.num_outputs = nout;
      launch.tensor_desc_size = sizeof(kiln_tensor_desc);
      launch.inputs = descs;
      launch.outputs = descs + nin;
      launch.attrs = attrs.from_v1(op, attrs_v1);
      return run_launch(reinterpret_cast<HostBackend*>(s), &launch);
    };
    // ---- v2 ----
    // Host work is done when the call returns, so an event is always complete.
    api_.event_create = [](kiln_device_t d, kiln_event_t* out) -> kiln_status {
      *out = reinterpret_cast<kiln_event_t>(d);
      return KILN_STATUS_OK;
    };
    api_.event_destroy = [](kiln_event_t) {};
    api_.event_record = [](kiln_event_t, kiln_stream_t) -> kiln_status { return KILN_STATUS_OK; };
    api_.stream_wait_event = [](kiln_stream_t, kiln_event_t) -> kiln_status { return KILN_STATUS_OK; };
    api_.event_synchronize = [](kiln_event_t) -> kiln_status { return KILN_STATUS_OK; };
    api_.event_query = [](kiln_event_t) -> kiln_status { return KILN_STATUS_OK; };
    api_.buffer_write_async = [](kiln_stream_t, kiln_buffer_t dst, uint64_t dst_offset, const void* src,
                                 uint64_t bytes) -> kiln_status {
      if (bytes) std::memcpy(static_cast<char*>(buffer_of(dst)->data) + dst_offset, src, bytes);
      return KILN_STATUS_OK;
    };
    api_.buffer_read_async = [](kiln_stream_t, kiln_buffer_t src, uint64_t src_offset, void* dst,
                                uint64_t bytes) -> kiln_status {
      if (bytes) std::memcpy(dst, static_cast<const char*>(buffer_of(src)->data) + src_offset, bytes);
      return KILN_STATUS_OK;
    };
    api_.buffer_copy = [](kiln_stream_t, kiln_buffer_t src, uint64_t src_offset, kiln_buffer_t dst,
                          uint64_t dst_offset, uint64_t bytes) -> kiln_status {
      if (bytes)
        std::memmove(static_cast<char*>(buffer_of(dst)->data) + dst_offset,
                     static_cast<const char*>(buffer_of(src)->data) + src_offset, bytes);
      return KILN_STATUS_OK;
    };
    api_.device_can_access_peer = [](kiln_device_t, kiln_device_t) -> int32_t { return 0; };
    api_.buffer_copy_peer = [](kiln_stream_t, kiln_buffer_t, uint64_t, kiln_buffer_t, uint64_t, uint64_t) -> kiln_status {
      return set_error(KILN_STATUS_UNSUPPORTED, "buffer_copy_peer: a host backend has one device and no peers");
    };
    api_.host_alloc = [](kiln_device_t, uint64_t bytes, void** out) -> kiln_status {
      if (bytes > (UINT64_MAX >> 1)) return set_error(KILN_STATUS_OUT_OF_MEMORY, "host allocation size is absurd");
      const uint64_t rounded = bytes == 0 ? 64 : (bytes + 63) / 64 * 64;
      *out = std::aligned_alloc(64, rounded);
      if (*out == nullptr) return set_error(KILN_STATUS_OUT_OF_MEMORY, "host_alloc of " + std::to_string(bytes) + " bytes failed");
      return KILN_STATUS_OK;
    };
    api_.host_free = [](kiln_device_t, void* ptr) { std::free(ptr); };
    api_.buffer_import_host = [](kiln_device_t, void* ptr, uint64_t bytes, kiln_buffer_t* out) -> kiln_status {
      if (ptr == nullptr && bytes != 0) return set_error(KILN_STATUS_INVALID_ARGUMENT, "buffer_import_host: NULL memory");
      auto* buffer = static_cast<HostBuffer*>(std::malloc(sizeof(HostBuffer)));
      if (buffer == nullptr) return set_error(KILN_STATUS_OUT_OF_MEMORY, "buffer_import_host: out of host memory");
      buffer->data = ptr;
      buffer->bytes = bytes;
      buffer->owned = 0;
      *out = reinterpret_cast<kiln_buffer_t>(buffer);
      return KILN_STATUS_OK;
    };
    api_.device_supports = [](kiln_device_t d, const kiln_launch_desc* launch) -> int32_t {
      const struct kiln_op_info* info = launch ? ::kiln_op_info(launch->op) : nullptr;
      if (info == nullptr || launch->struct_size < sizeof(kiln_launch_desc) ||
          launch->num_inputs != info->num_inputs || launch->num_outputs != info->num_outputs ||
          launch->tensor_desc_size < sizeof(kiln_tensor_desc) || (info->num_inputs > 0 && launch->inputs == nullptr) ||
          launch->outputs == nullptr)
        return 0;
      try {
        return reinterpret_cast<HostBackend*>(d)->supports_launch(*launch) ? 1 : 0;
      } catch (...) {
        return 0;
      }
    };
    api_.launch_v2 = [](kiln_stream_t s, const kiln_launch_desc* launch) -> kiln_status {
      return run_launch(reinterpret_cast<HostBackend*>(s), launch);
    };
    api_.stream_failed_launch = [](kiln_stream_t) -> uint64_t { return 0; };  // nothing is deferred
    return &api_;
  }

  static kiln_status set_error(kiln_status status, const std::string& message) {
    last_error_slot() = message;
    return status;
  }

  // Runs fn, converting any exception into a status and the thread's last-error message.
  template <typename Fn>
  static kiln_status guard(Fn&& fn) noexcept {
    try {
      fn();
      return KILN_STATUS_OK;
    } catch (const Failure& f) {
      return set_error(f.status(), f.what());
    } catch (const std::bad_alloc&) {
      return set_error(KILN_STATUS_OUT_OF_MEMORY, "out of host memory");
    } catch (const std::exception& e) {
      return set_error(KILN_STATUS_INTERNAL, e.what());
    } catch (...) {
      return set_error(KILN_STATUS_INTERNAL, "unknown exception in backend");
    }
  }

  static HostBuffer* buffer_of(kiln_buffer_t b) { return reinterpret_cast<HostBuffer*>(b); }

 private:
  // Validates (Note [Kit launch validation]) and runs one launch.
  static kiln_status run_launch(HostBackend* self, const kiln_launch_desc* launch) {
    char message[256];
    const kiln_status valid = kiln_validate_launch(launch, message, sizeof message);
    if (valid != KILN_STATUS_OK) return set_error(valid, std::string(self->name_) + ": " + message);
    const kiln_op op = static_cast<kiln_op>(launch->op);
    const int32_t nin = launch->num_inputs, nout = launch->num_outputs;
    if (launch->tensor_desc_size == sizeof(kiln_tensor_desc))
      return guard([&] { self->launch(op, launch->inputs, nin, launch->outputs, nout, launch->attrs); });
    // A newer host's longer descriptors: copy the part this kit knows into an array of its own.
    kiln_tensor_desc descs[KILN_OP_MAX_TENSORS];
    for (int32_t i = 0; i < nin; ++i) descs[i] = *kiln_launch_input(launch, i);
    for (int32_t i = 0; i < nout; ++i) descs[nin + i] = *kiln_launch_output(launch, i);
    return guard([&] { self->launch(op, descs, nin, descs + nin, nout, launch->attrs); });
  }

  // A v1 attribute struct moved behind the v2 header (struct_size, reserved).
  struct AttrsV2 {
    alignas(8) unsigned char bytes[256];
    const void* from_v1(kiln_op op, const void* attrs_v1) {
      const struct kiln_op_info* info = ::kiln_op_info(op);
      if (attrs_v1 == nullptr || info == nullptr || info->attrs == KILN_ATTRS_NONE) return attrs_v1;
      static_assert(sizeof(kiln_pool2d_attrs) <= sizeof(bytes) && sizeof(kiln_reduce_attrs) <= sizeof(bytes));
      std::memset(bytes, 0, sizeof bytes);
      const uint32_t size = info->attrs_size;
      std::memcpy(bytes, &size, sizeof size);
      std::memcpy(bytes + KILN_ATTRS_V1_OFFSET, attrs_v1, size - KILN_ATTRS_V1_OFFSET);
      return bytes;
    }
  };
  static kiln_tensor_desc from_v1(const kiln_tensor_desc_v1& v1) {
    kiln_tensor_desc d{};
    d.struct_size = sizeof(kiln_tensor_desc);
    d.dtype = v1.dtype;
    d.ndim = v1.ndim;
    d.data = v1.data;
    d.offset = v1.offset;
    std::memcpy(d.shape, v1.shape, sizeof d.shape);
    std::memcpy(d.strides, v1.strides, sizeof d.strides);
    return d;
  }

  const char* name_;
  const char* version_;
  int32_t priority_;
  const kiln_host_api* host_ = nullptr;
  kiln_backend_api api_{};
};

template <typename Backend>
kiln_status export_host_backend(const kiln_host_api* host, uint32_t host_abi_version,
                                const kiln_backend_api** out_api) noexcept {
  if (out_api == nullptr) return KILN_STATUS_INVALID_ARGUMENT;
  if (host_abi_version < 1) return HostBackend::set_error(KILN_STATUS_UNSUPPORTED, "host ABI version 0 is not supported");
  kiln_status status = HostBackend::guard([&] {
    static Backend backend;  // lives for the process: plugins are never unloaded
    backend.initialize(host);
    *out_api = backend.api(host_abi_version);
  });
  if (status != KILN_STATUS_OK) {
    // A table just long enough for the host to fetch the message of the failure.
    static kiln_backend_api failed{};
    failed.struct_size = static_cast<uint32_t>(offsetof(kiln_backend_api, last_error) + sizeof(failed.last_error));
    failed.abi_version = KILN_ABI_VERSION;
    failed.last_error = [](kiln_backend_t) -> const char* { return last_error_slot().c_str(); };
    *out_api = &failed;
  }
  return status;
}

}  // namespace kiln::plugin

#define KILN_EXPORT_HOST_BACKEND(Type)                                                              \
  extern "C" KILN_PLUGIN_EXPORT kiln_status kiln_backend_init(                                      \
      const kiln_host_api* host, uint32_t host_abi_version, const kiln_backend_api** out_api) {     \
    return ::kiln::plugin::export_host_backend<Type>(host, host_abi_version, out_api);              \
  }

#endif  // KILN_PLUGIN_HOST_BACKEND_HPP
