// Kiln's exceptions and its two check macros.
//
// KILN_CHECK(cond, ErrorType, parts...) is for what a user can get wrong: it throws ErrorType with a
// message built from the parts (say what was expected, what was found, and where).
// KILN_ASSERT(cond, parts...) is for Kiln's own invariants: failing it is a bug in Kiln.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace kiln {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};
class ShapeError : public Error { using Error::Error; };
class DTypeError : public Error { using Error::Error; };
class DeviceError : public Error { using Error::Error; };
class IndexError : public Error { using Error::Error; };
class ValueError : public Error { using Error::Error; };
// A backend failed or refused an op; the message names the backend, op and dtypes.
class BackendError : public Error { using Error::Error; };
// A plugin could not be loaded; the message names the file and the reason.
class PluginError : public Error { using Error::Error; };
// Bad data on disk; the message names the file and the byte offset.
class DataError : public Error { using Error::Error; };
// An internal invariant failed: a bug in Kiln.
class InternalError : public Error { using Error::Error; };

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace kiln

#define KILN_CHECK(cond, ErrorType, ...)                        \
  do {                                                          \
    if (!(cond)) throw ErrorType(::kiln::detail::concat(__VA_ARGS__)); \
  } while (0)

#define KILN_ASSERT(cond, ...)                                                                      \
  do {                                                                                              \
    if (!(cond))                                                                                    \
      throw ::kiln::InternalError(::kiln::detail::concat("internal error (a bug in Kiln) at ", __FILE__, \
                                                         ":", __LINE__, ": ", #cond, " ", ##__VA_ARGS__)); \
  } while (0)
