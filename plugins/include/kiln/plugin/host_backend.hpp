// Header-only C++ kit for host-memory backend plugins.
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
// The kit owns everything else in the C table: one CPU device, 64-byte aligned host buffers,
// synchronous no-op streams, and the thread-local last-error message. launch() reports failure
// by throwing kiln::plugin::Failure (or any std::exception); the kit turns it into a status and a
// message, so no exception ever crosses the C boundary.
#ifndef KILN_PLUGIN_HOST_BACKEND_HPP
#define KILN_PLUGIN_HOST_BACKEND_HPP

#include <kiln/plugin/kiln_backend.h>

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

// Byte offset-free element address helpers.
inline int64_t element_offset(const kiln_tensor_desc& d, const int64_t* index) {
  int64_t off = d.offset;
  for (int32_t k = 0; k < d.ndim; ++k) off += index[k] * d.strides[k];
  return off;
}
template <typename T>
inline T* typed(const kiln_tensor_desc& d) {
  return static_cast<T*>(d.data);
}

class HostBackend {
 public:
  HostBackend(const char* name, const char* version, int32_t priority)
      : name_(name), version_(version), priority_(priority) {}
  virtual ~HostBackend() = default;
  HostBackend(const HostBackend&) = delete;
  HostBackend& operator=(const HostBackend&) = delete;

  virtual bool supports(kiln_op op, const int32_t* dtypes, int32_t num_dtypes, const void* attrs) = 0;
  virtual void launch(kiln_op op, const kiln_tensor_desc* inputs, int32_t num_inputs,
                      const kiln_tensor_desc* outputs, int32_t num_outputs, const void* attrs) = 0;
  // Shown by `kiln plugins`; override to name the instruction set or thread count.
  virtual std::string device_name() const { return "host CPU"; }
  virtual int32_t compute_units() const { return static_cast<int32_t>(std::thread::hardware_concurrency()); }
  // Called once by kiln_backend_init; a failure here makes the host report the plugin.
  virtual void initialize(const kiln_host_api* host) { host_ = host; }

  const kiln_host_api* host() const { return host_; }
  const char* name() const { return name_; }

  const kiln_backend_api* api() {
    api_ = kiln_backend_api{};
    api_.struct_size = sizeof(kiln_backend_api);
    api_.abi_version = KILN_ABI_VERSION;
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
        p->abi_version = KILN_ABI_VERSION;
        std::string n = self->device_name();
        std::strncpy(p->name, n.c_str(), sizeof(p->name) - 1);
        p->kind = KILN_DEVICE_CPU;
        p->host_accessible = 1;
        p->compute_units = self->compute_units();
      });
    };
    api_.buffer_alloc = [](kiln_device_t, uint64_t bytes, kiln_buffer_t* out) -> kiln_status {
      if (bytes > (UINT64_MAX >> 1)) return set_error(KILN_STATUS_OUT_OF_MEMORY, "host allocation size is absurd");
      uint64_t rounded = (bytes + 63) / 64 * 64;
      if (rounded == 0) rounded = 64;
      void* p = std::aligned_alloc(64, rounded);
      if (p == nullptr) {
        std::ostringstream os;
        os << "host allocation of " << bytes << " bytes failed";
        return set_error(KILN_STATUS_OUT_OF_MEMORY, os.str());
      }
      *out = reinterpret_cast<kiln_buffer_t>(p);
      return KILN_STATUS_OK;
    };
    api_.buffer_free = [](kiln_buffer_t b) { std::free(b); };
    api_.buffer_data = [](kiln_buffer_t b) -> void* { return b; };
    api_.buffer_write = [](kiln_buffer_t b, uint64_t offset, const void* src, uint64_t bytes) -> kiln_status {
      if (bytes) std::memcpy(reinterpret_cast<char*>(b) + offset, src, bytes);
      return KILN_STATUS_OK;
    };
    api_.buffer_read = [](kiln_buffer_t b, uint64_t offset, void* dst, uint64_t bytes) -> kiln_status {
      if (bytes) std::memcpy(dst, reinterpret_cast<const char*>(b) + offset, bytes);
      return KILN_STATUS_OK;
    };
    api_.stream_create = [](kiln_device_t d, kiln_stream_t* out) -> kiln_status {
      *out = reinterpret_cast<kiln_stream_t>(d);  // the stream is the backend itself: synchronous
      return KILN_STATUS_OK;
    };
    api_.stream_destroy = [](kiln_stream_t) {};
    api_.stream_synchronize = [](kiln_stream_t) -> kiln_status { return KILN_STATUS_OK; };
    api_.supports = [](kiln_backend_t b, kiln_op op, const int32_t* dtypes, int32_t n, const void* attrs) -> int32_t {
      try {
        return reinterpret_cast<HostBackend*>(b)->supports(op, dtypes, n, attrs) ? 1 : 0;
      } catch (...) {
        return 0;
      }
    };
    api_.launch = [](kiln_stream_t s, kiln_op op, const kiln_tensor_desc* in, int32_t nin,
                     const kiln_tensor_desc* out, int32_t nout, const void* attrs) -> kiln_status {
      auto* self = reinterpret_cast<HostBackend*>(s);
      return guard([&] { self->launch(op, in, nin, out, nout, attrs); });
    };
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

 private:
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
    *out_api = backend.api();
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
