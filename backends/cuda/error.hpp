// Errors inside the CUDA backend: a Failure thrown anywhere becomes a status plus the thread's
// last-error message at the C boundary (guard), so no exception crosses it. The same shape as the
// host-backend kit's (kiln/plugin/host_backend.hpp), kept here so this plugin, which is no host
// backend, does not depend on the kit.
#ifndef KILN_BACKENDS_CUDA_ERROR_HPP
#define KILN_BACKENDS_CUDA_ERROR_HPP

#include <kiln/plugin/kiln_backend.h>

#include <exception>
#include <new>
#include <sstream>
#include <string>
#include <utility>

namespace kiln::cuda {

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

// What last_error() returns: thread-local, valid until the thread's next call into the plugin.
inline std::string& last_error_slot() {
  thread_local std::string message;
  return message;
}

inline kiln_status set_error(kiln_status status, const std::string& message) {
  last_error_slot() = message;
  return status;
}

// Runs fn, turning what it throws into a status and message.
template <typename Fn>
kiln_status guard(Fn&& fn) noexcept {
  try {
    fn();
    return KILN_STATUS_OK;
  } catch (const Failure& f) {
    return set_error(f.status(), f.what());
  } catch (const std::bad_alloc&) {
    return set_error(KILN_STATUS_OUT_OF_MEMORY, "cuda: out of host memory");
  } catch (const std::exception& e) {
    return set_error(KILN_STATUS_INTERNAL, std::string("cuda: ") + e.what());
  } catch (...) {
    return set_error(KILN_STATUS_INTERNAL, "cuda: unknown exception in the backend");
  }
}

}  // namespace kiln::cuda

#endif  // KILN_BACKENDS_CUDA_ERROR_HPP
